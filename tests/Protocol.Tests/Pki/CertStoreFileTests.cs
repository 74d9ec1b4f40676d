using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class CertStoreFileTests(PkiFixture fixture) : IClassFixture<PkiFixture>
{
    [Fact]
    public void Decode_EncodedKeyFile_EqualToOriginal()
    {
        var decoded = CertStoreFile.Decode(fixture.RsaKey.Encode());

        Assert.Equal(fixture.RsaKey, decoded);
        Assert.Equal(fixture.RsaKey.GetHashCode(), decoded.GetHashCode());
        Assert.NotSame(fixture.RsaKey, decoded);
        Assert.Equal(2048, decoded.KeyBits);
        Assert.True(decoded.ExportPassword!.Matches(PkiFixture.Password));
    }

    [Fact]
    public void Decode_CreatedAtWithSubMillisecondTicks_ExactlyTheSameTime()
    {
        // 36.1625920 s is one of the fractions that GeneralizedTime decoding used to return one tick early.
        var time = new FixedTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 40, 36, TimeSpan.Zero).AddTicks(1_625_920));
        var file = new KeyFactory(fixture.Protector, time).GenerateEcdsaP256("ticks", "pw");

        var decoded = CertStoreFile.Decode(file.Encode());

        Assert.Equal(time.Now.UtcTicks, decoded.CreatedAt.UtcTicks);
        Assert.Equal(file, decoded);
    }

    [Fact]
    public void Decode_EncodedCertificate_EqualWithSameMetadata()
    {
        var decoded = CertStoreFile.Decode(fixture.EcCertificate.Encode());

        Assert.Equal(fixture.EcCertificate, decoded);
        Assert.Equal(fixture.EcCertificate.Subject, decoded.Subject);
        Assert.Equal(fixture.EcCertificate.SerialNumber, decoded.SerialNumber);
        Assert.Equal(fixture.EcCertificate.NotAfter, decoded.NotAfter);
        Assert.Equal(fixture.EcCertificate.Sha256Fingerprint, decoded.Sha256Fingerprint);
    }

    [Fact]
    public void Decode_DecodedKeyFile_StillOpensWithTheMasterKey()
    {
        var decoded = CertStoreFile.Decode(fixture.EcKey.Encode());

        using var key = fixture.Protector.OpenPrivateKey(decoded);

        Assert.Equal(decoded.PublicKeyInfo.ToArray(), key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void Equals_SameKeyResealed_NotEqualBecauseSealedBytesDiffer()
    {
        var other = fixture.Keys.GenerateEcdsaP256("ec-key", PkiFixture.Password);

        Assert.NotEqual(fixture.EcKey, other);
        Assert.False(fixture.EcKey == other);
    }

    [Fact]
    public void Decode_Garbage_ThrowsCorrupt()
    {
        var error = Assert.Throws<PkiException>(() => CertStoreFile.Decode([0x30, 0x03, 0x02, 0x01, 0x07]));

        Assert.Equal(PkiErrorCode.Corrupt, error.Code);
    }

    [Fact]
    public void FromCertificate_Metadata_MatchesWhatOpensslPrints()
    {
        using var directory = new TempDirectory();
        var path = directory.File("cert.der");
        File.WriteAllBytes(path, fixture.RsaCertificate.CertificateDer.ToArray());

        var output = OpenSsl.Run("x509", "-inform", "DER", "-in", path, "-noout", "-serial", "-fingerprint", "-sha256", "-subject", "-nameopt", "RFC2253");

        Assert.Contains($"serial={fixture.RsaCertificate.SerialNumber}", output, StringComparison.Ordinal);
        Assert.Contains($"Fingerprint={fixture.RsaCertificate.Sha256Fingerprint}", output, StringComparison.Ordinal);
        Assert.Contains("subject=CN=www.example.com", output, StringComparison.Ordinal);
        Assert.Equal(["www.example.com"], fixture.RsaCertificate.SubjectAltNames);
    }

    [Fact]
    public void ToString_KeyFile_NamesKeyAndFingerprintOnly()
    {
        var text = fixture.RsaKey.ToString();

        Assert.Equal($"key file 'rsa-key' (RSA 2048, public key SHA-256 {fixture.RsaKey.Sha256Fingerprint})", text);
    }
}
