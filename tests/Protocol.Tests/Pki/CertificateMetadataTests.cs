using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Pki;
using Xunit;

namespace SslCluster.Protocol.Tests.Pki;

/// <summary>
/// The managed reading of a certificate (what the store lists and the data plane logs) against the platform's reading
/// of the same bytes, for the shapes certificates come in: both key types and every supported curve, odd RSA sizes,
/// multi-attribute and non-ASCII names, DNS and IP alternative names, serials with the top bit set, validity beyond
/// 2049 (GeneralizedTime), and a version 1 certificate from the openssl command line.
/// </summary>
public sealed class CertificateMetadataTests
{
    public static TheoryData<string> Shapes => ["rsa2048", "rsa3072", "rsa2056", "p256", "p384", "p521", "names", "serial-high-bit", "after-2049", "no-extensions"];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Parse_CertificateOfEachShape_ReadsWhatThePlatformReads(string shape)
    {
        var der = Make(shape);

        AssertSameAsPlatform(der);
    }

    [Fact]
    public void Parse_Version1CertificateFromOpenSsl_ReadsWhatThePlatformReads()
    {
        using var directory = new TempDirectory();
        OpenSsl.Run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", directory.File("v1.key"), "-subj", "/C=FR/O=Exemple, S.A./CN=v1.example", "-out", directory.File("v1.csr"));
        OpenSsl.Run("x509", "-req", "-in", directory.File("v1.csr"), "-key", directory.File("v1.key"), "-days", "30", "-outform", "DER", "-out", directory.File("v1.der"));
        var der = File.ReadAllBytes(directory.File("v1.der"));
        using var platform = X509CertificateLoader.LoadCertificate(der);
        Assert.Equal(X509ContentType.Cert, X509Certificate2.GetCertContentType(der));

        AssertSameAsPlatform(der);
    }

    [Fact]
    public void Parse_CertificateNotStrictDerInside_ReadByThePlatformAsBefore()
    {
        // basicConstraints critical, its BOOLEAN TRUE written 0x01 rather than DER's 0xFF: OpenSSL reads it (some CA
        // software writes it), the managed DER reading does not, and the store read such certificates before.
        var der = Make("rsa2048");
        byte[] pattern = [0x06, 0x03, 0x55, 0x1D, 0x13, 0x01, 0x01, 0xFF];
        var at = der.AsSpan().IndexOf(pattern);
        Assert.True(at > 0);
        der[at + 7] = 0x01;

        AssertSameAsPlatform(der);
    }

    [Fact]
    public void Parse_TruncatedOrTrailingBytes_CorruptNamingTheFile()
    {
        var der = Make("p256");

        foreach (var bad in new[] { der[..^1], der[..40], [.. der, 0], [0x30, 0x03, 0x02, 0x01, 0x01], "-----BEGIN CERTIFICATE-----"u8.ToArray() })
        {
            var error = Assert.Throws<PkiException>(() => CertificateMetadata.Parse(bad, "certificate 'www'"));
            Assert.Equal(PkiErrorCode.Corrupt, error.Code);
            Assert.Matches("^certificate 'www' is not (a valid X.509 certificate|in DER encoding)", error.Message);
        }
    }

    [Fact]
    public void Parse_RandomlyDamagedCertificates_EitherReadOrCorruptNeverAnotherError()
    {
        // A journal's bytes damaged on disk, or a hostile file: every damaged copy is read or refused as Corrupt.
        var random = new Random(20261206);
        var originals = new[] { Make("rsa2048"), Make("p384"), Make("names"), Make("after-2049") };
        var refused = 0;
        for (var i = 0; i < 4_000; i++)
        {
            var der = (byte[])originals[i % originals.Length].Clone();
            switch (i % 4)
            {
                case 0:
                    der[random.Next(der.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    der = der[..random.Next(der.Length)];
                    break;
                case 2:
                    for (var k = 0; k < 8; k++) der[random.Next(der.Length)] = (byte)random.Next(256);
                    break;
                default:
                    // A length byte or tag near the start, where the structure is described.
                    der[random.Next(Math.Min(40, der.Length))] = (byte)random.Next(256);
                    break;
            }

            try
            {
                var read = CertificateMetadata.Parse(der, "certificate 'x'");
                Assert.NotNull(read.Subject);
                KeyDescription.FromSubjectPublicKeyInfo(read.SubjectPublicKeyInfo, "certificate 'x'");
            }
            catch (PkiException e) when (e.Code is PkiErrorCode.Corrupt or PkiErrorCode.Unsupported)
            {
                refused++;
            }
        }

        Assert.InRange(refused, 1_000, 4_000);
    }

    [Fact]
    public void FromSubjectPublicKeyInfo_RsaKeyWithEvenExponent_CorruptRatherThanASize()
    {
        using var rsa = RSA.Create(2048);
        var p = rsa.ExportParameters(false);
        p.Exponent = [0x01, 0x00, 0x00];
        var spki = SpkiOf(p.Modulus!, p.Exponent);

        var error = Assert.Throws<PkiException>(() => KeyDescription.FromSubjectPublicKeyInfo(spki, "key file 'k'"));

        Assert.Equal(PkiErrorCode.Corrupt, error.Code);
        Assert.Contains("key file 'k': the RSA public key is malformed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSubjectPublicKeyInfo_RsaKeysOfManySizes_SizeThePlatformReports()
    {
        foreach (var bits in new[] { 1024, 2048, 2056, 3072, 4096 })
        {
            using var rsa = RSA.Create(bits);

            var description = KeyDescription.FromSubjectPublicKeyInfo(rsa.ExportSubjectPublicKeyInfo(), "key");

            Assert.Equal((KeyAlgorithm.Rsa, rsa.KeySize), (description.Algorithm, description.Bits));
        }
    }

    private static void AssertSameAsPlatform(byte[] der)
    {
        using var platform = X509CertificateLoader.LoadCertificate(der);

        var fields = CertificateMetadata.Parse(der, "certificate 'c'");
        var file = CertStoreFile.FromCertificate("c", der, DateTimeOffset.UtcNow);

        Assert.Equal(platform.Subject, fields.Subject);
        Assert.Equal(platform.Issuer, fields.Issuer);
        // The serial as openssl prints it (no DER sign byte before a first byte of 0x80 or more), which operators compare.
        using var directory = new TempDirectory();
        File.WriteAllBytes(directory.File("c.der"), der);
        var openssl = OpenSsl.Run("x509", "-inform", "DER", "-in", directory.File("c.der"), "-noout", "-serial").Trim();
        Assert.Equal($"serial={fields.SerialNumber}", openssl);
        Assert.Equal(fields.SerialNumber, file.SerialNumber);
        Assert.Equal(platform.NotBefore.ToUniversalTime(), fields.NotBefore.UtcDateTime);
        Assert.Equal(platform.NotAfter.ToUniversalTime(), fields.NotAfter.UtcDateTime);
        Assert.Equal(platform.PublicKey.ExportSubjectPublicKeyInfo(), fields.SubjectPublicKeyInfo);
        var names = platform.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(san => san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(a => a.ToString())));
        Assert.Equal(names, fields.SubjectAltNames);
        var bits = platform.GetRSAPublicKey()?.KeySize ?? platform.GetECDsaPublicKey()!.KeySize;
        Assert.Equal(bits, file.KeyBits);
        Assert.Equal(fields.Subject, file.Subject);
    }

    private static byte[] Make(string shape)
    {
        using AsymmetricAlgorithm key = shape switch
        {
            "rsa3072" => RSA.Create(3072),
            "rsa2056" => RSA.Create(2056),
            "p256" => ECDsa.Create(ECCurve.NamedCurves.nistP256),
            "p384" => ECDsa.Create(ECCurve.NamedCurves.nistP384),
            "p521" => ECDsa.Create(ECCurve.NamedCurves.nistP521),
            _ => RSA.Create(2048),
        };
        var subject = shape == "names"
            ? new X500DistinguishedName("CN=\"www.exemple.fr, edge\", OU=Équipe TLS, OU=Ops, O=Société Générale de Test, L=Zürich, C=CH, E=ops@example.test")
            : new X500DistinguishedName($"CN={shape}.example, O=Example");
        var request = key is RSA rsa
            ? new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject, (ECDsa)key, HashAlgorithmName.SHA256);
        if (shape != "no-extensions")
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName($"{shape}.example");
            san.AddDnsName("*.wild.example");
            san.AddIpAddress(IPAddress.Parse("127.0.0.7"));
            san.AddIpAddress(IPAddress.Parse("2001:db8::1"));
            san.AddEmailAddress("ops@example.test");
            request.CertificateExtensions.Add(san.Build(critical: shape == "names"));
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        }

        var notBefore = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var notAfter = shape == "after-2049" ? new DateTimeOffset(2061, 6, 7, 8, 9, 10, TimeSpan.Zero) : new DateTimeOffset(2027, 1, 2, 3, 4, 5, TimeSpan.Zero);
        byte[] serial = shape == "serial-high-bit" ? [0x80, 0x01, 0x02, 0x03] : [0x01, 0x7f, 0x00, 0x42];
        var generator = key is RSA r ? X509SignatureGenerator.CreateForRSA(r, RSASignaturePadding.Pkcs1) : X509SignatureGenerator.CreateForECDsa((ECDsa)key);
        using var certificate = request.Create(subject, generator, notBefore, notAfter, serial);
        return certificate.RawData;
    }

    /// <summary>An RSA SubjectPublicKeyInfo with the given modulus and exponent, whatever they are.</summary>
    private static byte[] SpkiOf(byte[] modulus, byte[] exponent)
    {
        var inner = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (inner.PushSequence())
        {
            inner.WriteIntegerUnsigned(modulus);
            inner.WriteIntegerUnsigned(exponent);
        }

        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oids.Rsa);
                writer.WriteNull();
            }

            writer.WriteBitString(inner.Encode());
        }

        return writer.Encode();
    }
}
