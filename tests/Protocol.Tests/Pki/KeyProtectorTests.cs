using System.Security.Cryptography;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class KeyProtectorTests(PkiFixture fixture) : IClassFixture<PkiFixture>
{
    private static readonly byte[] Secret = "private key bytes"u8.ToArray();

    [Fact]
    public void Seal_ThenOpenWithSameNameAndKind_ReturnsPlaintext()
    {
        var blob = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);

        var opened = fixture.Protector.Open("web", CertStoreFileKind.RsaPrivateKey, blob);

        Assert.Equal(Secret, opened);
    }

    [Fact]
    public void Seal_Always_WritesVersionKeyIdRandomNonceAndTag()
    {
        var first = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);
        var second = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);

        Assert.Equal(1 + 4 + 12 + Secret.Length + 16, first.Length);
        Assert.Equal(KeyProtector.FormatVersion, first[0]);
        Assert.Equal(fixture.MasterKey.KeyId, Convert.ToHexStringLower(first.AsSpan(1, 4)));
        Assert.NotEqual(first.AsSpan(5, 12).ToArray(), second.AsSpan(5, 12).ToArray());
        Assert.Equal(-1, first.AsSpan().IndexOf(Secret));
    }

    [Fact]
    public void Open_OtherMasterKey_ThrowsMasterKeyMismatch()
    {
        var blob = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);
        using var otherKey = MasterKey.CreateRandom();
        using var other = new KeyProtector(otherKey);

        var error = Assert.Throws<PkiException>(() => other.Open("web", CertStoreFileKind.RsaPrivateKey, blob));

        Assert.Equal(PkiErrorCode.MasterKeyMismatch, error.Code);
        Assert.StartsWith("the master key does not match the one that sealed key file 'web'", error.Message, StringComparison.Ordinal);
        Assert.Contains(fixture.MasterKey.KeyId, error.Message, StringComparison.Ordinal);
        Assert.Contains(otherKey.KeyId, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_BlobMovedToAnotherName_ThrowsIntegrityFailure()
    {
        var blob = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);

        var error = Assert.Throws<PkiException>(() => fixture.Protector.Open("mail", CertStoreFileKind.RsaPrivateKey, blob));

        Assert.Equal(PkiErrorCode.IntegrityFailure, error.Code);
        Assert.StartsWith("key file 'mail' failed its integrity check", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_BlobRelabelledAsOtherKind_ThrowsIntegrityFailure()
    {
        var blob = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);

        var error = Assert.Throws<PkiException>(() => fixture.Protector.Open("web", CertStoreFileKind.EcPrivateKey, blob));

        Assert.Equal(PkiErrorCode.IntegrityFailure, error.Code);
    }

    [Fact]
    public void Open_OneCiphertextBitFlipped_ThrowsIntegrityFailure()
    {
        var blob = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);
        blob[20] ^= 0x01;

        var error = Assert.Throws<PkiException>(() => fixture.Protector.Open("web", CertStoreFileKind.RsaPrivateKey, blob));

        Assert.Equal(PkiErrorCode.IntegrityFailure, error.Code);
    }

    [Fact]
    public void Open_TruncatedBlob_ThrowsCorrupt()
    {
        var error = Assert.Throws<PkiException>(() => fixture.Protector.Open("web", CertStoreFileKind.RsaPrivateKey, new byte[10]));

        Assert.Equal(PkiErrorCode.Corrupt, error.Code);
        Assert.Contains("shorter than the 33-byte minimum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_UnknownVersion_ThrowsCorruptNamingVersion()
    {
        var blob = fixture.Protector.Seal("web", CertStoreFileKind.RsaPrivateKey, Secret);
        blob[0] = 9;

        var error = Assert.Throws<PkiException>(() => fixture.Protector.Open("web", CertStoreFileKind.RsaPrivateKey, blob));

        Assert.Equal("sealed key file 'web' has format version 9, which this build does not know", error.Message);
    }

    [Fact]
    public void OpenPrivateKey_GeneratedRsaKey_SignsWhatItsPublicKeyVerifies()
    {
        using var key = (RSA)fixture.Protector.OpenPrivateKey(fixture.RsaKey);
        using var publicKey = RSA.Create();
        publicKey.ImportSubjectPublicKeyInfo(fixture.RsaKey.PublicKeyInfo.Span, out _);

        var signature = key.SignData(Secret, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);

        Assert.True(publicKey.VerifyData(Secret, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
    }

    [Fact]
    public void OpenPrivateKey_CertificateFile_ThrowsWrongFileKind()
    {
        var error = Assert.Throws<PkiException>(() => fixture.Protector.OpenPrivateKey(fixture.RsaCertificate));

        Assert.Equal(PkiErrorCode.WrongFileKind, error.Code);
    }
}
