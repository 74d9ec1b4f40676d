using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class CertStoreImporterTests(PkiFixture pki, OpenSslFiles files) : IClassFixture<PkiFixture>, IClassFixture<OpenSslFiles>
{
    private const string Password = OpenSslFiles.Password;

    [Fact]
    public void ImportFile_PemCertificate_OneCertificateFileWithOpensslMetadata()
    {
        var result = pki.Importer.ImportFile(files.Path("cert.pem"), "imp", PkiFileType.Pem, null);

        var file = Assert.Single(result.Files);
        Assert.Empty(result.Warnings);
        Assert.Equal("imp", file.Name);
        Assert.Equal(CertStoreFileKind.Certificate, file.Kind);
        Assert.Equal("CN=imp.example.com", file.Subject);
        Assert.Equal(["imp.example.com"], file.SubjectAltNames);
        var openssl = OpenSsl.Run("x509", "-in", files.Path("cert.pem"), "-noout", "-serial", "-fingerprint", "-sha256");
        Assert.Contains($"serial={file.SerialNumber}", openssl, StringComparison.Ordinal);
        Assert.Contains($"Fingerprint={file.Sha256Fingerprint}", openssl, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0xBC0102030405060708")]
    [InlineData("0x7F0102030405060708")]
    [InlineData("0x0A0B")]
    public void ImportFile_CertificateWithGivenSerial_SerialShownAsOpensslPrintsIt(string serial)
    {
        // A first byte of 0x80 or more is stored in DER behind a 00 sign byte; openssl's -serial leaves it out, so do we.
        using var directory = new TempDirectory();
        var path = directory.File("serial.pem");
        OpenSsl.Run("req", "-x509", "-new", "-key", files.Path("rsa.key"), "-subj", "/CN=serial.example", "-days", "30", "-set_serial", serial, "-out", path);

        var file = Assert.Single(pki.Importer.ImportFile(path, "ser", PkiFileType.Pem, null).Files);

        Assert.Equal(serial[2..], file.SerialNumber);
        Assert.Equal($"serial={file.SerialNumber}", OpenSsl.Run("x509", "-in", path, "-noout", "-serial").Trim());
    }

    [Fact]
    public void ImportFile_DerCertificate_SameAsThePemImport()
    {
        var der = Assert.Single(pki.Importer.ImportFile(files.Path("cert.der"), "imp", PkiFileType.Der, null).Files);
        var pem = Assert.Single(pki.Importer.ImportFile(files.Path("cert.pem"), "imp", PkiFileType.Pem, null).Files);

        Assert.Equal(pem.CertificateDer.ToArray(), der.CertificateDer.ToArray());
    }

    [Theory]
    [InlineData("rsa.key", PkiFileType.Pem)]
    [InlineData("rsa-enc.key", PkiFileType.Pem)]
    [InlineData("rsa-pkcs1.key", PkiFileType.Pem)]
    [InlineData("rsa-legacy-enc.key", PkiFileType.Pem)]
    [InlineData("rsa.key.der", PkiFileType.Der)]
    [InlineData("rsa-enc.key.der", PkiFileType.Der)]
    public void ImportFile_RsaKeyInEachEncoding_SealedKeyFileWithTheSamePublicKeyAsOpenssl(string fileName, PkiFileType type)
    {
        var result = pki.Importer.ImportFile(files.Path(fileName), "k", type, Password);

        var file = Assert.Single(result.Files);
        Assert.Equal(CertStoreFileKind.RsaPrivateKey, file.Kind);
        Assert.Equal(2048, file.KeyBits);
        Assert.True(file.ExportPassword!.Matches(Password));
        Assert.Equal(OpensslPublicKey(files.Path("rsa.key")), file.PublicKeyInfo.ToArray());
        using var key = pki.Protector.OpenPrivateKey(file);
    }

    [Fact]
    public void ImportFile_Sec1EcKeyAfterEcParameters_EcKeyFile()
    {
        var file = Assert.Single(pki.Importer.ImportFile(files.Path("ec.key"), "ec", PkiFileType.Pem, Password).Files);

        Assert.Equal(CertStoreFileKind.EcPrivateKey, file.Kind);
        Assert.Equal("P-256", file.Curve);
        Assert.Equal(OpensslPublicKey(files.Path("ec.key")), file.PublicKeyInfo.ToArray());
    }

    [Fact]
    public void ImportFile_LegacyEncryptedEcKey_EcKeyFile()
    {
        var file = Assert.Single(pki.Importer.ImportFile(files.Path("ec-legacy-enc.key"), "ec", PkiFileType.Pem, Password).Files);

        Assert.Equal(OpensslPublicKey(files.Path("ec.key")), file.PublicKeyInfo.ToArray());
    }

    [Fact]
    public void ImportFile_P384Key_SelfSignedCertificateUsesSha384AndVerifies()
    {
        using var directory = new TempDirectory();
        var key = Assert.Single(pki.Importer.ImportFile(files.Path("p384.key"), "p384", PkiFileType.Pem, Password).Files);
        var certificate = pki.Certificates.CreateSelfSigned("p384-cert", key, key, Password, new SubjectName("p384.example.com"), 10);
        var path = directory.File("p384.pem");
        File.WriteAllText(path, CertStoreExporter.CertificateToPem(certificate));

        var text = OpenSsl.Run("x509", "-in", path, "-noout", "-text");
        var verify = OpenSsl.Run("verify", "-CAfile", path, path);

        Assert.Equal("P-384", key.Curve);
        Assert.Contains("ecdsa-with-SHA384", text, StringComparison.Ordinal);
        Assert.Contains($"{path}: OK", verify, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_Pkcs12WithChain_KeyLeafAndCaNamedInChainOrder()
    {
        var result = pki.Importer.ImportFile(files.Path("bundle.p12"), "shop", PkiFileType.Pkcs12, Password);

        Assert.Equal(["shop-key", "shop-cert", "shop-ca1"], result.Files.Select(file => file.Name));
        Assert.Equal(CertStoreFileKind.EcPrivateKey, result.Files[0].Kind);
        Assert.Equal("CN=leaf.example.com", result.Files[1].Subject);
        Assert.Equal("CN=Test Root CA", result.Files[2].Subject);
        Assert.True(TlsKeyMaterial.KeyMatchesCertificate(result.Files[0], result.Files[1]));
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void ImportFile_PemWithCaLeafAndKeyInAnyOrder_OrdersLeafFirst()
    {
        var result = pki.Importer.ImportFile(files.Path("combined.pem"), "web", PkiFileType.Pem, Password);

        Assert.Equal(["web-key", "web-cert", "web-ca1"], result.Files.Select(file => file.Name));
        Assert.Equal("CN=leaf.example.com", result.Files[1].Subject);
    }

    [Fact]
    public void ImportFile_Pkcs12WrongPassword_ThrowsWrongPassword()
    {
        var path = files.Path("bundle.p12");

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pkcs12, "nope"));

        Assert.Equal(PkiErrorCode.WrongPassword, error.Code);
        Assert.Equal($"file '{path}': wrong password for the PKCS#12 file (its integrity check does not verify)", error.Message);
    }

    [Theory]
    [InlineData("rsa-enc.key")]
    [InlineData("rsa-legacy-enc.key")]
    public void ImportFile_EncryptedPemWrongPassword_ThrowsWrongPassword(string fileName)
    {
        var path = files.Path(fileName);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pem, "nope"));

        Assert.Equal(PkiErrorCode.WrongPassword, error.Code);
        Assert.EndsWith(": wrong password for the encrypted private key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_EncryptedKeyWithoutPassword_ThrowsAskingForIt()
    {
        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path("rsa-enc.key"), "x", PkiFileType.Pem, string.Empty));

        Assert.EndsWith(": the private key is encrypted; give its password", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_PlainKeyWithoutPassword_ThrowsExplainingTheExportPassword()
    {
        var path = files.Path("rsa.key");

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pem, null));

        Assert.Equal($"file '{path}' holds a private key: give a password all the same, it becomes the key file's export password", error.Message);
    }

    [Fact]
    public void ImportFile_Pkcs12WithEmptyPassword_ThrowsAskingForAReExportWithOne()
    {
        var path = files.NewPath("nopass.p12");
        OpenSsl.Run("pkcs12", "-export", "-inkey", files.Path("rsa.key"), "-in", files.Path("cert.pem"), "-passout", "pass:", "-out", path);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pkcs12, string.Empty));

        Assert.Equal(PkiErrorCode.InvalidArgument, error.Code);
        Assert.EndsWith("re-export it with a password", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_Pkcs12KeyTiedToAnotherCertificate_ThrowsMismatch()
    {
        var path = files.NewPath("mismatch.p12");
        WriteMismatchedPkcs12(path);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pkcs12, Password));

        Assert.Equal(PkiErrorCode.KeyCertificateMismatch, error.Code);
        Assert.Equal($"file '{path}': the private key (ECDSA P-256) does not match its certificate 'CN=imp.example.com': their public keys differ", error.Message);
    }

    [Fact]
    public void ImportFile_PemKeyWithAnotherKeysCertificate_ThrowsMismatch()
    {
        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path("mismatched.pem"), "x", PkiFileType.Pem, Password));

        Assert.Equal(PkiErrorCode.KeyCertificateMismatch, error.Code);
        Assert.EndsWith("the private key (ECDSA P-256) does not match the certificate 'CN=imp.example.com': their public keys differ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_ExpiredCertificate_ImportsWithAWarning()
    {
        var later = new FixedTimeProvider(DateTimeOffset.UtcNow.AddYears(5));
        var importer = new CertStoreImporter(pki.Protector, later);

        var result = importer.ImportFile(files.Path("cert.pem"), "old", PkiFileType.Pem, null);

        var file = Assert.Single(result.Files);
        var warning = Assert.Single(result.Warnings);
        Assert.StartsWith("certificate 'old' (CN=imp.example.com) expired on ", warning, StringComparison.Ordinal);
        Assert.EndsWith(" UTC: it was imported, but clients reject it", warning, StringComparison.Ordinal);
        Assert.Equal(later.Now, file.CreatedAt);
    }

    [Theory]
    [InlineData("dsa.key")]
    [InlineData("dsa-traditional.key")]
    public void ImportFile_DsaKey_ThrowsUnsupportedSayingWhy(string fileName)
    {
        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path(fileName), "x", PkiFileType.Pem, Password));

        Assert.Equal(PkiErrorCode.Unsupported, error.Code);
        Assert.EndsWith("DSA keys are not supported: DSA cannot be used in TLS 1.3 and is weak in TLS 1.2; use an RSA (2048 bits or more) or ECDSA P-256 key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_Ed25519Key_ThrowsUnsupported()
    {
        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path("ed25519.key"), "x", PkiFileType.Pem, Password));

        Assert.Equal(PkiErrorCode.Unsupported, error.Code);
        Assert.Contains("EdDSA (Ed25519/Ed448) keys are not supported", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_Secp256k1Key_ThrowsUnsupportedNamingTheCurve()
    {
        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path("k1.key"), "x", PkiFileType.Pem, Password));

        Assert.Equal(PkiErrorCode.Unsupported, error.Code);
        Assert.EndsWith("ECDSA keys on secp256k1 are not supported; use P-256 (or P-384, P-521)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_Rsa1024Key_ThrowsWeakKey()
    {
        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path("rsa1024.key"), "x", PkiFileType.Pem, Password));

        Assert.Equal(PkiErrorCode.WeakKey, error.Code);
        Assert.EndsWith("the RSA key is 1024 bits, which is too weak (clients reject it): use 2048 bits or more", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_CertificateRequest_ThrowsSayingToGetItSigned()
    {
        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path("req.pem"), "x", PkiFileType.Pem, null));

        Assert.Equal(PkiErrorCode.Unsupported, error.Code);
        Assert.Contains("a certificate request cannot be imported; have a CA sign it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_Missing_ThrowsDoesNotExist()
    {
        var path = files.NewPath("missing.pem");

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pem, null));

        Assert.Equal(PkiErrorCode.FileUnreadable, error.Code);
        Assert.Equal($"file '{path}' does not exist", error.Message);
    }

    [Fact]
    public void ImportFile_Empty_ThrowsEmpty()
    {
        var path = files.NewPath("empty.pem");
        File.WriteAllText(path, "\n\n");

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pem, null));

        Assert.Equal(PkiErrorCode.EmptyFile, error.Code);
        Assert.Equal($"file '{path}' is empty", error.Message);
    }

    [Theory]
    [InlineData("cert.der", PkiFileType.Pem, "is not PEM: it has no '-----BEGIN' line; it looks like binary DER: import it with type der")]
    [InlineData("bundle.p12", PkiFileType.Pem, "is not PEM: it has no '-----BEGIN' line; it looks like PKCS#12: import it with type pkcs12")]
    [InlineData("cert.pem", PkiFileType.Der, "is PEM text, not DER: import it with type pem")]
    [InlineData("bundle.p12", PkiFileType.Der, "is PKCS#12, not a single DER object: import it with type pkcs12")]
    [InlineData("cert.der", PkiFileType.Pkcs12, "is not PKCS#12; it holds a certificate in DER: import it with type der")]
    [InlineData("cert.pem", PkiFileType.Pkcs12, "is PEM text, not PKCS#12: import it with type pem")]
    public void ImportFile_DeclaredTypeIsWrong_ThrowsNamingTheRightType(string fileName, PkiFileType declared, string expected)
    {
        var path = files.Path(fileName);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", declared, Password));

        Assert.Equal(PkiErrorCode.WrongFormat, error.Code);
        Assert.Equal($"file '{path}' {expected}", error.Message);
    }

    [Fact]
    public void ImportFile_TextThatIsNotPem_ThrowsNotPem()
    {
        var path = files.NewPath("notes.txt");
        File.WriteAllText(path, "hello\n");

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pem, null));

        Assert.Equal($"file '{path}' is not PEM: it has no '-----BEGIN' line", error.Message);
    }

    [Theory]
    [InlineData("cert.der", PkiFileType.Der)]
    [InlineData("bundle.p12", PkiFileType.Pkcs12)]
    public void ImportFile_TruncatedBinary_ThrowsTruncatedWithTheNumbers(string fileName, PkiFileType type)
    {
        var whole = File.ReadAllBytes(files.Path(fileName));
        var path = files.NewPath(fileName);
        File.WriteAllBytes(path, whole[..(whole.Length / 2)]);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", type, Password));

        Assert.Equal(PkiErrorCode.Truncated, error.Code);
        Assert.Equal($"file '{path}' is truncated: its DER structure declares {whole.Length} bytes but only {whole.Length / 2} are present", error.Message);
    }

    [Fact]
    public void ImportFile_TruncatedPem_ThrowsNoEndLine()
    {
        var text = File.ReadAllText(files.Path("cert.pem"));
        var path = files.NewPath("cut.pem");
        File.WriteAllText(path, text[..(text.Length / 2)]);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pem, null));

        Assert.Equal(PkiErrorCode.Truncated, error.Code);
        Assert.Equal($"file '{path}': the PEM block 'CERTIFICATE' has no END line: the file is truncated", error.Message);
    }

    [Fact]
    public void ImportFile_PemWithDamagedBase64_ThrowsCorrupt()
    {
        var text = File.ReadAllText(files.Path("cert.pem")).Replace("\nM", "\n!M", StringComparison.Ordinal);
        var path = files.NewPath("damaged.pem");
        File.WriteAllText(path, text);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(path, "x", PkiFileType.Pem, null));

        Assert.Equal(PkiErrorCode.Corrupt, error.Code);
        Assert.Contains("is not valid base64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportFile_NameTooLongForSuffixes_ThrowsListingTheNames()
    {
        var name = new string('n', 30);

        var error = Assert.Throws<PkiException>(() => pki.Importer.ImportFile(files.Path("bundle.p12"), name, PkiFileType.Pkcs12, Password));

        Assert.Equal(PkiErrorCode.InvalidArgument, error.Code);
        Assert.StartsWith($"import name '{name}' is too long for a file of 3 objects", error.Message, StringComparison.Ordinal);
    }

    private static byte[] OpensslPublicKey(string keyPath)
    {
        var pem = OpenSsl.Run("pkey", "-in", keyPath, "-pubout");
        return Convert.FromBase64String(string.Concat(pem.Split('\n').Where(line => line.Length > 0 && !line.StartsWith("-----", StringComparison.Ordinal))));
    }

    // openssl refuses to bundle a key with a certificate that is not its own, so BouncyCastle writes this one.
    private void WriteMismatchedPkcs12(string path)
    {
        Org.BouncyCastle.Crypto.AsymmetricKeyParameter ecKey;
        using (var reader = new StreamReader(files.Path("ec.key")))
        {
            var pem = new Org.BouncyCastle.OpenSsl.PemReader(reader);
            object? item;
            do
            {
                item = pem.ReadObject();
            }
            while (item is not Org.BouncyCastle.Crypto.AsymmetricCipherKeyPair);

            ecKey = ((Org.BouncyCastle.Crypto.AsymmetricCipherKeyPair)item).Private;
        }

        var otherCertificate = new Org.BouncyCastle.X509.X509Certificate(File.ReadAllBytes(files.Path("cert.der")));
        var store = new Pkcs12StoreBuilder().Build();
        store.SetKeyEntry("k", new AsymmetricKeyEntry(ecKey), [new X509CertificateEntry(otherCertificate)]);
        using var output = File.Create(path);
        store.Save(output, Password.ToCharArray(), new SecureRandom());
    }
}
