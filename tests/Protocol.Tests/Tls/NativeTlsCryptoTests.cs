using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;
using BcChaCha20Poly1305 = Org.BouncyCastle.Crypto.Modes.ChaCha20Poly1305;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class NativeTlsCryptoTests
{
    private static readonly byte[] Nonce = [.. Enumerable.Range(1, 12).Select(i => (byte)i)];
    private static readonly byte[] Aad = [23, 3, 3, 0, 42, 9, 9, 9, 9, 9, 9, 9, 9];

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    public void AesGcm_EncryptInPlace_MatchesBouncyCastleGcm(int keySize)
    {
        byte[] key = [.. Enumerable.Range(0, keySize).Select(i => (byte)(i * 3))];
        byte[] plain = [.. Enumerable.Range(0, 1000).Select(i => (byte)i)];
        var native = new NativeAesGcmCipher(encrypting: true);
        native.SetKey(key, 0, key.Length);
        native.Init(Nonce, 16, null!);
        byte[] buffer = new byte[10 + plain.Length + 16];
        plain.CopyTo(buffer, 10);

        int n = native.DoFinal(Aad, buffer, 10, plain.Length, buffer, 10);

        var reference = new GcmBlockCipher(new AesEngine());
        reference.Init(true, new AeadParameters(new KeyParameter(key), 128, Nonce, Aad));
        byte[] expected = new byte[reference.GetOutputSize(plain.Length)];
        int len = reference.ProcessBytes(plain, 0, plain.Length, expected, 0);
        reference.DoFinal(expected, len);
        Assert.Equal(plain.Length + 16, n);
        Assert.Equal(expected, buffer[10..(10 + n)]);
    }

    [Fact]
    public void AesGcm_DecryptTampered_ThrowsBadRecordMac()
    {
        byte[] key = new byte[16];
        var encrypt = new NativeAesGcmCipher(true);
        var decrypt = new NativeAesGcmCipher(false);
        encrypt.SetKey(key);
        decrypt.SetKey(key);
        encrypt.Init(Nonce, 16, null!);
        decrypt.Init(Nonce, 16, null!);
        byte[] buffer = new byte[64 + 16];
        int n = encrypt.DoFinal(Aad, buffer, 0, 64, buffer, 0);
        byte[] copy = (byte[])buffer.Clone();

        Assert.Equal(64, decrypt.DoFinal(Aad, copy, 0, n, copy, 0));
        Assert.Equal(new byte[64], copy[..64]);
        buffer[5] ^= 1;
        var alert = Assert.Throws<TlsFatalAlert>(() => decrypt.DoFinal(Aad, buffer, 0, n, buffer, 0));
        Assert.Equal(AlertDescription.bad_record_mac, alert.AlertDescription);
    }

    [Fact]
    public void ChaCha20Poly1305_Encrypt_MatchesBouncyCastleAndDecryptsBack()
    {
        byte[] key = [.. Enumerable.Range(0, 32).Select(i => (byte)(255 - i))];
        byte[] plain = [.. Enumerable.Range(0, 333).Select(i => (byte)(i * 5))];
        var encrypt = new NativeChaCha20Poly1305Cipher(true);
        encrypt.SetKey(key, 0, 32);
        encrypt.Init(Nonce, 16, null!);
        byte[] buffer = new byte[plain.Length + 16];
        plain.CopyTo(buffer, 0);
        int n = encrypt.DoFinal(Aad, buffer, 0, plain.Length, buffer, 0);

        var reference = new BcChaCha20Poly1305();
        reference.Init(true, new AeadParameters(new KeyParameter(key), 128, Nonce, Aad));
        byte[] expected = new byte[reference.GetOutputSize(plain.Length)];
        int len = reference.ProcessBytes(plain, 0, plain.Length, expected, 0);
        reference.DoFinal(expected, len);
        Assert.Equal(expected, buffer[..n]);

        var decrypt = new NativeChaCha20Poly1305Cipher(false);
        decrypt.SetKey(key);
        decrypt.Init(Nonce, 16, null!);
        Assert.Equal(plain.Length, decrypt.GetOutputSize(n));
        Assert.Equal(plain.Length, decrypt.DoFinal(Aad, buffer, 0, n, buffer, 0));
        Assert.Equal(plain, buffer[..plain.Length]);
    }

    [Fact]
    public void CreateCertificate_SameDerTwice_ParsesPublicKeyOnce()
    {
        using var certificate = TestCertificates.CreateRsa();
        var crypto = new NativeTlsCrypto();

        var first = (CachedKeyTlsCertificate)crypto.CreateCertificate(CertificateType.X509, certificate.Der);
        var second = (CachedKeyTlsCertificate)crypto.CreateCertificate(CertificateType.X509, certificate.Der);

        Assert.NotSame(first, second);
        Assert.Same(first.GetPubKeyRsa(), second.GetPubKeyRsa());
        Assert.Equal(1, crypto.CachedCertificateCount);
        Assert.Equal(certificate.Der, second.GetEncoded());
    }

    [Fact]
    public void CreateCertificate_MoreCertificatesThanCapacity_StaysBounded()
    {
        var crypto = new NativeTlsCrypto(certificateCacheCapacity: 2);
        var certificates = Enumerable.Range(0, 3).Select(_ => TestCertificates.CreateEcdsa()).ToList();
        try
        {
            foreach (var certificate in certificates)
            {
                _ = crypto.CreateCertificate(CertificateType.X509, certificate.Der).GetEncoded();
            }

            Assert.Equal(2, crypto.CachedCertificateCount);
        }
        finally
        {
            certificates.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public void CreateCertificate_Garbage_ThrowsBadCertificateAlert()
    {
        var crypto = new NativeTlsCrypto();

        var alert = Assert.Throws<TlsFatalAlert>(() => crypto.CreateCertificate(CertificateType.X509, [1, 2, 3]));
        Assert.Equal(AlertDescription.bad_certificate, alert.AlertDescription);
        Assert.Equal(0, crypto.CachedCertificateCount);
    }
}
