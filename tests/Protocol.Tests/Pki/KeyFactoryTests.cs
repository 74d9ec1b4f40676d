using System.Security.Cryptography;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class KeyFactoryTests(PkiFixture fixture) : IClassFixture<PkiFixture>
{
    [Fact]
    public void GenerateRsa_2048_SealedKeyFileWithMetadataFromTheClock()
    {
        var factory = new KeyFactory(fixture.Protector, fixture.Time);

        var file = factory.GenerateRsa("web-key", 2048, "pw");

        Assert.Equal("web-key", file.Name);
        Assert.Equal(CertStoreFileKind.RsaPrivateKey, file.Kind);
        Assert.Equal(KeyAlgorithm.Rsa, file.KeyAlgorithm);
        Assert.Equal(2048, file.KeyBits);
        Assert.Null(file.Curve);
        Assert.Equal(fixture.Time.Now, file.CreatedAt);
        Assert.True(file.ExportPassword!.Matches("pw"));
        Assert.True(file.CertificateDer.IsEmpty);
        Assert.Null(file.Subject);
        Assert.Equal(CertStoreFile.FormatFingerprint(SHA256.HashData(file.PublicKeyInfo.Span)), file.Sha256Fingerprint);
        // The clear key is not in the file: opening it is the only way to it.
        using var key = (RSA)fixture.Protector.OpenPrivateKey(file);
        Assert.Equal(-1, file.SealedPrivateKey.Span.IndexOf(key.ExportPkcs8PrivateKey()));
        Assert.Equal(file.PublicKeyInfo.ToArray(), key.ExportSubjectPublicKeyInfo());
    }

    [Theory]
    [InlineData(3072)]
    [InlineData(4096)]
    public void GenerateRsa_LargerSizes_KeyHasThatSize(int bits)
    {
        var file = fixture.Keys.GenerateRsa("big", bits, "pw");

        Assert.Equal(bits, file.KeyBits);
        Assert.Equal($"RSA {bits}", file.KeyDisplay);
    }

    [Fact]
    public void GenerateRsa_1024_ThrowsWeakKeySayingUse2048()
    {
        var error = Assert.Throws<PkiException>(() => fixture.Keys.GenerateRsa("old", 1024, "pw"));

        Assert.Equal(PkiErrorCode.WeakKey, error.Code);
        Assert.StartsWith("RSA key size 1024 is too weak", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("use 2048", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(1536)]
    [InlineData(2047)]
    [InlineData(8192)]
    public void GenerateRsa_OtherSizes_ThrowsListingTheAcceptedSizes(int bits)
    {
        var error = Assert.Throws<PkiException>(() => fixture.Keys.GenerateRsa("odd", bits, "pw"));

        Assert.Equal(PkiErrorCode.InvalidArgument, error.Code);
        Assert.Equal($"RSA key size {bits} is not supported: use 2048, 3072 or 4096", error.Message);
    }

    [Fact]
    public void GenerateRsa_EmptyPassword_ThrowsBeforeGenerating()
    {
        var error = Assert.Throws<PkiException>(() => fixture.Keys.GenerateRsa("web", 4096, string.Empty));

        Assert.Equal("the password is empty: a private key needs a password, which is asked for again to export it", error.Message);
    }

    [Theory]
    [InlineData("", "a file name is required")]
    [InlineData("my key", "file name 'my key' contains ' ': use only letters, digits, '.', '_' and '-'")]
    [InlineData("-key", "file name '-key' must start with a letter or a digit")]
    [InlineData("k23456789012345678901234567890123", "file name 'k23456789012345678901234567890123' is 33 characters long: the limit is 32")]
    public void GenerateRsa_BadName_ThrowsSayingWhatIsWrong(string name, string expected)
    {
        var error = Assert.Throws<PkiException>(() => fixture.Keys.GenerateRsa(name, 2048, "pw"));

        Assert.Equal(PkiErrorCode.InvalidArgument, error.Code);
        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void GenerateEcdsaP256_Always_EcKeyFileOnP256()
    {
        var file = fixture.Keys.GenerateEcdsaP256("ec", "pw");

        Assert.Equal(CertStoreFileKind.EcPrivateKey, file.Kind);
        Assert.Equal("P-256", file.Curve);
        Assert.Equal(256, file.KeyBits);
        using var key = (ECDsa)fixture.Protector.OpenPrivateKey(file);
        Assert.Equal("1.2.840.10045.3.1.7", key.ExportParameters(false).Curve.Oid.Value);
    }

    [Fact]
    public void UnsupportedCommandMessage_GenDsa_SaysWhyAndWhatToUse()
    {
        var text = KeyFactory.UnsupportedCommandMessage(UnsupportedKeyCommand.GenDsa);

        Assert.StartsWith("ssl gendsa is not supported: DSA cannot be used in TLS 1.3 and is weak in TLS 1.2", text, StringComparison.Ordinal);
        Assert.Contains("ssl genrsa", text, StringComparison.Ordinal);
        Assert.Contains("ssl genecdsa", text, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedCommandMessage_GenDh_SaysEcdheIsAlwaysUsed()
    {
        var text = KeyFactory.UnsupportedCommandMessage(UnsupportedKeyCommand.GenDh);

        Assert.StartsWith("ssl gendh is not supported: static Diffie-Hellman is obsolete", text, StringComparison.Ordinal);
        Assert.Contains("ECDHE", text, StringComparison.Ordinal);
        Assert.Contains("ssl genrsa", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_TooFewIterations_ThrowsBeforeAnyKeyIsMade()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new KeyFactory(fixture.Protector, TimeProvider.System, 1000));
    }
}
