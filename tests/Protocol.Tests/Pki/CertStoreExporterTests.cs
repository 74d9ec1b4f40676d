using System.Runtime.Versioning;
using System.Text;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class CertStoreExporterTests(PkiFixture pki) : IClassFixture<PkiFixture>
{
    private const string Password = PkiFixture.Password;

    [Fact]
    public void Export_GeneratedRsaKeyAsPem_OpensslReadsItWithThePasswordAndImportGivesTheSameKey()
    {
        using var directory = new TempDirectory();
        var key = pki.Keys.GenerateRsa("round", 2048, Password);
        var path = directory.File("round.key");
        File.WriteAllBytes(path, pki.Exporter.Export(key, PkiFileType.Pem, Password));

        var structure = OpenSsl.Run("asn1parse", "-in", path);
        var publicKey = OpenSsl.Run("pkey", "-in", path, "-passin", $"pass:{Password}", "-pubout", "-outform", "DER", "-out", directory.File("pub.der"));
        var wrong = OpenSsl.TryRun("pkey", "-in", path, "-passin", "pass:wrong", "-noout");
        var imported = Assert.Single(pki.Importer.ImportFile(path, "back", PkiFileType.Pem, Password).Files);

        Assert.StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----", File.ReadAllText(path), StringComparison.Ordinal);
        Assert.Contains(":PBES2", structure, StringComparison.Ordinal);
        Assert.Contains(":aes-256-cbc", structure, StringComparison.Ordinal);
        Assert.Contains(":hmacWithSHA256", structure, StringComparison.Ordinal);
        Assert.Equal(key.PublicKeyInfo.ToArray(), File.ReadAllBytes(directory.File("pub.der")));
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Equal(key.PublicKeyInfo.ToArray(), imported.PublicKeyInfo.ToArray());
        Assert.True(imported.ExportPassword!.Matches(Password));
        Assert.NotNull(publicKey);
    }

    [Fact]
    public void Export_EcKeyAsPkcs12WithCertificate_OpensslReadsItAndImportGivesKeyAndCertificate()
    {
        using var directory = new TempDirectory();
        var path = directory.File("ec.p12");
        File.WriteAllBytes(path, pki.Exporter.Export(pki.EcKey, PkiFileType.Pkcs12, Password, [pki.EcCertificate]));

        var info = OpenSsl.Run("pkcs12", "-in", path, "-passin", $"pass:{Password}", "-info", "-nodes");
        var result = pki.Importer.ImportFile(path, "back", PkiFileType.Pkcs12, Password);

        Assert.Contains("MAC: sha256", info, StringComparison.Ordinal);
        Assert.Contains("PBES2, PBKDF2, AES-256-CBC", info, StringComparison.Ordinal);
        Assert.Contains("-----BEGIN PRIVATE KEY-----", info, StringComparison.Ordinal);
        Assert.Contains("subject=CN = ec.example.com", info, StringComparison.Ordinal);
        Assert.Equal(["back-key", "back-cert"], result.Files.Select(file => file.Name));
        Assert.Equal(pki.EcKey.PublicKeyInfo.ToArray(), result.Files[0].PublicKeyInfo.ToArray());
        Assert.Equal(pki.EcCertificate.CertificateDer.ToArray(), result.Files[1].CertificateDer.ToArray());
    }

    [Theory]
    [InlineData(PkiFileType.Pem)]
    [InlineData(PkiFileType.Der)]
    public void Export_Certificate_OpensslReadsItAndImportGivesTheSameFingerprint(PkiFileType type)
    {
        using var directory = new TempDirectory();
        var path = directory.File("cert");
        File.WriteAllBytes(path, pki.Exporter.Export(pki.RsaCertificate, type, null));

        var output = OpenSsl.Run("x509", "-inform", type.ToText(), "-in", path, "-noout", "-fingerprint", "-sha256");
        var imported = Assert.Single(pki.Importer.ImportFile(path, "back", type, null).Files);

        Assert.Contains(pki.RsaCertificate.Sha256Fingerprint, output, StringComparison.Ordinal);
        Assert.Equal(pki.RsaCertificate.Sha256Fingerprint, imported.Sha256Fingerprint);
    }

    [Fact]
    public void Export_KeyWithWrongPassword_ThrowsWrongPassword()
    {
        var error = Assert.Throws<PkiException>(() => pki.Exporter.Export(pki.RsaKey, PkiFileType.Pem, "guess"));

        Assert.Equal(PkiErrorCode.WrongPassword, error.Code);
        Assert.Equal("wrong export password for key file 'rsa-key': give the password it was generated or imported with", error.Message);
    }

    [Fact]
    public void Export_KeyWithoutPassword_ThrowsSayingWhichPassword()
    {
        var error = Assert.Throws<PkiException>(() => pki.Exporter.Export(pki.RsaKey, PkiFileType.Pkcs12, null, [pki.RsaCertificate]));

        Assert.Equal("exporting key file 'rsa-key' needs its password (the one given to ssl genrsa or to the import)", error.Message);
    }

    [Fact]
    public void Export_KeyAsDer_ThrowsSayingKeysLeaveOnlyEncrypted()
    {
        var error = Assert.Throws<PkiException>(() => pki.Exporter.Export(pki.RsaKey, PkiFileType.Der, Password));

        Assert.Equal("key file 'rsa-key' cannot be exported as der: a private key leaves the store only encrypted; use type pem (encrypted PKCS#8) or pkcs12", error.Message);
    }

    [Fact]
    public void Export_Pkcs12WithoutCertificate_ThrowsAskingForIt()
    {
        var error = Assert.Throws<PkiException>(() => pki.Exporter.Export(pki.RsaKey, PkiFileType.Pkcs12, Password));

        Assert.StartsWith("a PKCS#12 export of key file 'rsa-key' needs its certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_Pkcs12WithAnotherKeysCertificate_ThrowsMismatch()
    {
        var error = Assert.Throws<PkiException>(() => pki.Exporter.Export(pki.RsaKey, PkiFileType.Pkcs12, Password, [pki.EcCertificate]));

        Assert.Equal(PkiErrorCode.KeyCertificateMismatch, error.Code);
    }

    [Fact]
    public void Export_CertificateAsPkcs12_ThrowsPointingToTheKeyFile()
    {
        var error = Assert.Throws<PkiException>(() => pki.Exporter.Export(pki.RsaCertificate, PkiFileType.Pkcs12, Password));

        Assert.StartsWith("certificate 'rsa-cert' is exported as pem or der", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void WriteFile_PrivateKey_Mode0600AndNeverOverwrites()
    {
        using var directory = new TempDirectory();
        var path = directory.File("out.key");

        CertStoreExporter.WriteFile(path, Encoding.ASCII.GetBytes("x"), containsPrivateKey: true);
        var error = Assert.Throws<PkiException>(() => CertStoreExporter.WriteFile(path, Encoding.ASCII.GetBytes("y"), containsPrivateKey: true));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal("x", File.ReadAllText(path));
        Assert.Equal($"file '{path}' already exists: export does not overwrite files", error.Message);
    }
}
