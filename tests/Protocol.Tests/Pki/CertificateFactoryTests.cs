using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

public sealed class CertificateFactoryTests(PkiFixture fixture) : IClassFixture<PkiFixture>
{
    private static readonly SubjectName FullSubject = new("www.example.com")
    {
        Organization = "Example Corp",
        OrganizationalUnit = "Web",
        Locality = "San Jose",
        State = "California",
        Country = "us",
        Email = "admin@example.com",
    };

    [Fact]
    public void CreateCsr_RsaKeyAllFields_OpensslVerifiesAndShowsSubjectAndSans()
    {
        using var directory = new TempDirectory();
        var pem = fixture.Certificates.CreateCsr(fixture.RsaKey, FullSubject, ["www.example.com", "example.com", "192.0.2.7"]);
        File.WriteAllText(directory.File("req.pem"), pem);

        var output = OpenSsl.Run("req", "-in", directory.File("req.pem"), "-verify", "-noout", "-text");

        Assert.StartsWith("-----BEGIN CERTIFICATE REQUEST-----", pem, StringComparison.Ordinal);
        Assert.Contains("verify OK", output, StringComparison.Ordinal);
        Assert.Contains("Subject: C = US, ST = California, L = San Jose, O = Example Corp, OU = Web, CN = www.example.com, emailAddress = admin@example.com", output, StringComparison.Ordinal);
        Assert.Contains("DNS:www.example.com, DNS:example.com, IP Address:192.0.2.7", output, StringComparison.Ordinal);
        Assert.Contains("Public-Key: (2048 bit)", output, StringComparison.Ordinal);
        Assert.Contains("sha256WithRSAEncryption", output, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateCsr_EcKeyNoSans_OpensslVerifiesAndCnIsCopiedIntoSan()
    {
        using var directory = new TempDirectory();
        File.WriteAllText(directory.File("req.pem"), fixture.Certificates.CreateCsr(fixture.EcKey, new SubjectName("shop.example.org")));

        var output = OpenSsl.Run("req", "-in", directory.File("req.pem"), "-verify", "-noout", "-text");

        Assert.Contains("verify OK", output, StringComparison.Ordinal);
        Assert.Contains("ecdsa-with-SHA256", output, StringComparison.Ordinal);
        Assert.Contains("NIST CURVE: P-256", output, StringComparison.Ordinal);
        Assert.Contains("DNS:shop.example.org", output, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateCsr_CnNotAHostName_NoSanExtension()
    {
        using var directory = new TempDirectory();
        File.WriteAllText(directory.File("req.pem"), fixture.Certificates.CreateCsr(fixture.EcKey, new SubjectName("Example Web Server")));

        var output = OpenSsl.Run("req", "-in", directory.File("req.pem"), "-verify", "-noout", "-text");

        Assert.Contains("CN = Example Web Server", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Subject Alternative Name", output, StringComparison.Ordinal);
    }

    public static TheoryData<SubjectName, string> BadSubjects => new()
    {
        { new SubjectName(string.Empty), "the common name (CN) is required, normally the server's host name" },
        { new SubjectName("a") { Country = "USA" }, "country (C) 'USA' must be a 2-letter ISO 3166 code, such as US or DE" },
        { new SubjectName("a") { Country = "U1" }, "country (C) 'U1' must be a 2-letter ISO 3166 code, such as US or DE" },
        { new SubjectName(new string('x', 65)), "the common name (CN) is 65 characters long: the limit is 64" },
        { new SubjectName("a") { Organization = "Bad\nCorp" }, "the organization (O) contains a control character" },
        { new SubjectName("a") { Locality = " Paris" }, "the locality (L) ' Paris' begins or ends with a space: most CAs reject that, remove it" },
        { new SubjectName("a") { Email = "admin.example.com" }, "email address 'admin.example.com' is not of the form name@domain in plain ASCII without spaces" },
    };

    [Theory]
    [MemberData(nameof(BadSubjects))]
    public void CreateCsr_BadSubject_ThrowsNamingTheField(SubjectName subject, string expected)
    {
        var error = Assert.Throws<PkiException>(() => fixture.Certificates.CreateCsr(fixture.RsaKey, subject));

        Assert.Equal(PkiErrorCode.InvalidArgument, error.Code);
        Assert.Equal(expected, error.Message);
    }

    [Theory]
    [InlineData("bad_name.example.com", "subject alternative name 'bad_name.example.com' has a label 'bad_name' with a character other than letters, digits and '-'")]
    [InlineData("*.com", "subject alternative name '*.com' is a wildcard over a top-level domain: a wildcard needs at least two labels after '*.'")]
    [InlineData("a..example.com", "subject alternative name 'a..example.com' has an empty label (two dots in a row, or a leading or trailing dot)")]
    [InlineData("www.*.example.com", "subject alternative name 'www.*.example.com' has a '*' that is not the whole leftmost label")]
    [InlineData("bücher.example", "subject alternative name 'bücher.example' is not ASCII: give an internationalised name in its punycode form (xn--...)")]
    public void CreateCsr_BadSubjectAltName_ThrowsSayingWhy(string name, string expected)
    {
        var error = Assert.Throws<PkiException>(() => fixture.Certificates.CreateCsr(fixture.RsaKey, new SubjectName("www.example.com"), [name]));

        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void CreateCsr_CertificateFileAsKey_ThrowsWrongFileKind()
    {
        var error = Assert.Throws<PkiException>(() => fixture.Certificates.CreateCsr(fixture.RsaCertificate, FullSubject));

        Assert.Equal(PkiErrorCode.WrongFileKind, error.Code);
        Assert.StartsWith("key 'rsa-cert' is a certificate file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateSelfSigned_RsaKey_OpensslShowsServerExtensionsAndVerifiesItAgainstItself()
    {
        using var directory = new TempDirectory();
        var certificate = fixture.Certificates.CreateSelfSigned("web-cert", fixture.RsaKey, fixture.RsaKey, PkiFixture.Password, FullSubject, 30, ["www.example.com", "example.com"]);
        var path = directory.File("cert.pem");
        File.WriteAllText(path, CertStoreExporter.CertificateToPem(certificate));

        var text = OpenSsl.Run("x509", "-in", path, "-noout", "-text");
        var verify = OpenSsl.Run("verify", "-CAfile", path, "-purpose", "sslserver", path);

        Assert.Contains($"{path}: OK", verify, StringComparison.Ordinal);
        Assert.Contains("Signature Algorithm: sha256WithRSAEncryption", text, StringComparison.Ordinal);
        Assert.Contains("X509v3 Basic Constraints: critical\n                CA:FALSE", text, StringComparison.Ordinal);
        Assert.Contains("X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment", text, StringComparison.Ordinal);
        Assert.Contains("X509v3 Extended Key Usage: \n                TLS Web Server Authentication", text, StringComparison.Ordinal);
        Assert.Contains("X509v3 Subject Key Identifier", text, StringComparison.Ordinal);
        Assert.Contains("X509v3 Authority Key Identifier", text, StringComparison.Ordinal);
        Assert.Contains("DNS:www.example.com, DNS:example.com", text, StringComparison.Ordinal);
        Assert.Equal(certificate.Subject, certificate.Issuer);
        Assert.Equal(fixture.RsaKey.PublicKeyInfo.ToArray(), certificate.PublicKeyInfo.ToArray());
    }

    [Fact]
    public void CreateSelfSigned_EcKeyNoSans_OpensslVerifiesAndCnIsInSan()
    {
        using var directory = new TempDirectory();
        var path = directory.File("cert.pem");
        File.WriteAllText(path, CertStoreExporter.CertificateToPem(fixture.EcCertificate));

        var text = OpenSsl.Run("x509", "-in", path, "-noout", "-text");
        var verify = OpenSsl.Run("verify", "-CAfile", path, "-purpose", "sslserver", path);

        Assert.Contains($"{path}: OK", verify, StringComparison.Ordinal);
        Assert.Contains("ecdsa-with-SHA256", text, StringComparison.Ordinal);
        Assert.Contains("X509v3 Key Usage: critical\n                Digital Signature\n", text, StringComparison.Ordinal);
        Assert.Contains("DNS:ec.example.com", text, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateSelfSigned_Dates_FollowTheClockWithFiveMinutesOfSkewAllowance()
    {
        var time = new FixedTimeProvider(new DateTimeOffset(2027, 5, 4, 3, 2, 1, 500, TimeSpan.Zero));
        var factory = new CertificateFactory(fixture.Protector, time);

        var certificate = factory.CreateSelfSigned("c", fixture.EcKey, fixture.EcKey, PkiFixture.Password, new SubjectName("a.example"), 90);

        Assert.Equal(new DateTimeOffset(2027, 5, 4, 2, 57, 1, TimeSpan.Zero), certificate.NotBefore);
        Assert.Equal(new DateTimeOffset(2027, 8, 2, 3, 2, 1, TimeSpan.Zero), certificate.NotAfter);
        Assert.Equal(time.Now, certificate.CreatedAt);
    }

    [Fact]
    public void CreateSelfSigned_Serial_SixteenBytesPositiveWithNonZeroFirstByte()
    {
        var certificate = fixture.Certificates.CreateSelfSigned("c", fixture.EcKey, fixture.EcKey, PkiFixture.Password, new SubjectName("a.example"), 1);

        Assert.Equal(32, certificate.SerialNumber!.Length);
        var first = byte.Parse(certificate.SerialNumber[..2], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.InRange(first, 0x40, 0x7F);
    }

    [Fact]
    public void NewSerialNumber_ManyDraws_AlwaysPositiveNonZeroAndDistinct()
    {
        var serials = Enumerable.Range(0, 2000).Select(_ => CertificateFactory.NewSerialNumber()).ToList();

        Assert.All(serials, serial =>
        {
            Assert.Equal(16, serial.Length);
            Assert.InRange(serial[0], 0x40, 0x7F);
        });
        Assert.Equal(serials.Count, serials.Select(Convert.ToHexString).Distinct().Count());
    }

    [Fact]
    public void CreateSelfSigned_DifferentSignKey_IssuerIsSubjectAndOnlyTheSignKeyVerifiesIt()
    {
        using var directory = new TempDirectory();
        var subject = new SubjectName("www.example.com");
        // certkey EC, signkey RSA: the issuer name is the subject, the signature is the RSA key's.
        var certificate = fixture.Certificates.CreateSelfSigned("mixed", fixture.EcKey, fixture.RsaKey, PkiFixture.Password, subject, 30);
        var signerCertificate = fixture.Certificates.CreateSelfSigned("signer", fixture.RsaKey, fixture.RsaKey, PkiFixture.Password, subject, 30);
        File.WriteAllText(directory.File("mixed.pem"), CertStoreExporter.CertificateToPem(certificate));

        using var parsed = X509CertificateLoader.LoadCertificate(certificate.CertificateDer.Span);
        using var signer = X509CertificateLoader.LoadCertificate(signerCertificate.CertificateDer.Span);
        var text = OpenSsl.Run("x509", "-in", directory.File("mixed.pem"), "-noout", "-text");

        Assert.Equal(certificate.Subject, certificate.Issuer);
        Assert.Equal(fixture.EcKey.PublicKeyInfo.ToArray(), certificate.PublicKeyInfo.ToArray());
        Assert.Contains("Signature Algorithm: sha256WithRSAEncryption", text, StringComparison.Ordinal);
        Assert.Contains("X509v3 Key Usage: critical\n                Digital Signature\n", text, StringComparison.Ordinal);
        Assert.True(VerifiesWith(parsed, signer.GetRSAPublicKey()!));
        Assert.False(VerifiesWithOwnKey(parsed));
    }

    [Fact]
    public void CreateSelfSigned_WrongPassword_ThrowsWrongPassword()
    {
        var error = Assert.Throws<PkiException>(() =>
            fixture.Certificates.CreateSelfSigned("c", fixture.RsaKey, fixture.RsaKey, "wrong", FullSubject, 30));

        Assert.Equal(PkiErrorCode.WrongPassword, error.Code);
        Assert.Equal("wrong password for sign key 'rsa-key': give the password it was generated or imported with", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3651)]
    public void CreateSelfSigned_ValidityOutOfRange_Throws(int days)
    {
        var error = Assert.Throws<PkiException>(() =>
            fixture.Certificates.CreateSelfSigned("c", fixture.RsaKey, fixture.RsaKey, PkiFixture.Password, FullSubject, days));

        Assert.Equal($"a validity of {days} days is not accepted: give 1 to 3650 days", error.Message);
    }

    [Fact]
    public void CreateSelfSigned_CertificateAsSignKey_ThrowsWrongFileKind()
    {
        var error = Assert.Throws<PkiException>(() =>
            fixture.Certificates.CreateSelfSigned("c", fixture.RsaKey, fixture.RsaCertificate, PkiFixture.Password, FullSubject, 30));

        Assert.Equal(PkiErrorCode.WrongFileKind, error.Code);
        Assert.StartsWith("signkey 'rsa-cert' is a certificate file", error.Message, StringComparison.Ordinal);
    }

    private static bool VerifiesWith(X509Certificate2 certificate, RSA issuerKey)
    {
        var (tbs, signature) = SplitSignedData(certificate.RawData);
        return issuerKey.VerifyData(tbs, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    private static bool VerifiesWithOwnKey(X509Certificate2 certificate)
    {
        var (tbs, signature) = SplitSignedData(certificate.RawData);
        using var own = certificate.GetECDsaPublicKey()!;
        return own.VerifyData(tbs, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    private static (byte[] Tbs, byte[] Signature) SplitSignedData(byte[] der)
    {
        var reader = new System.Formats.Asn1.AsnReader(der, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        var tbs = reader.ReadEncodedValue().ToArray();
        reader.ReadSequence();
        return (tbs, reader.ReadBitString(out _));
    }
}
