using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// <c>http-header client-cert | server-cert | xfcc | rfc9440</c>: the certificate fields, read against the real
/// <c>openssl x509</c>, and the lines built from a handshake's outcome.
/// </summary>
public sealed class CertificateHeaderFieldsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sslcluster-certfields-").FullName;

    /// <summary>An RSA-2048 client certificate with every extension the fields read, issued by a separate RSA CA.</summary>
    private static readonly (byte[] Leaf, byte[] Ca) Chain = MakeChain();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (byte[] Leaf, byte[] Ca) MakeChain()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Fields Test CA, O=SslCluster Tests", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        using var key = RSA.Create(2048);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCountryOrRegion("US");
        subject.AddOrganizationName("Example, Inc.");
        subject.AddOrganizationalUnitName("Payments");
        subject.AddCommonName("alice");
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("alice.example.test");
        san.AddIpAddress(IPAddress.Parse("127.0.0.7"));
        san.AddUri(new Uri("spiffe://example.test/alice"));
        san.AddEmailAddress("alice@example.test");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension(["http://127.0.0.1:8080/ca.crl"]));
        request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(["http://127.0.0.1:8081/ocsp"], ["http://127.0.0.1:8080/ca.cer"]));
        using var leaf = request.Create(ca, now.AddHours(-1), now.AddDays(2), [0x4A, 0x01, 0xFF, 0x10]);
        return (leaf.RawData, ca.RawData);
    }

    private static string Field(CertificateFields fields, string name) =>
        fields[CertificateFields.Names.ToList().IndexOf(name)] ?? throw new Xunit.Sdk.XunitException($"no {name} field");

    [Fact]
    public async Task Of_RsaCertificateWithEveryExtension_FieldsAgreeWithOpenSslX509()
    {
        var pem = Path.Combine(_folder, "leaf.pem");
        await File.WriteAllTextAsync(pem, PemEncoding.WriteString("CERTIFICATE", Chain.Leaf) + "\n");
        var fields = CertificateFields.Of(Chain.Leaf)!;

        var openssl = await OpenSslClient.RunAsync("openssl",
            $"x509 -in {pem} -noout -nameopt RFC2253 -subject -issuer -fingerprint -md5 -serial -startdate -enddate -modulus -ext subjectAltName,keyUsage,basicConstraints,authorityInfoAccess,crlDistributionPoints,authorityKeyIdentifier",
            null, TimeSpan.FromSeconds(20));
        Assert.Equal(0, openssl.ExitCode);
        var lines = openssl.StandardOutput.Split('\n', StringSplitOptions.TrimEntries);
        string After(string start) => lines.Single(l => l.StartsWith(start, StringComparison.Ordinal))[start.Length..];
        string Below(string title) => lines[Array.FindIndex(lines, l => l.StartsWith(title, StringComparison.Ordinal)) + 1];

        Assert.Equal(After("md5 Fingerprint="), Field(fields, "Fingerprint"));
        Assert.Equal(After("subject="), Field(fields, "Subject"));
        Assert.Equal(After("issuer="), Field(fields, "Issuer"));
        Assert.Equal(After("serial="), Field(fields, "Serial-Number").Replace(":", "", StringComparison.Ordinal));
        Assert.Equal(After("notBefore="), Field(fields, "Not-Before"));
        Assert.Equal(After("notAfter="), Field(fields, "Not-After"));
        Assert.Equal(After("Modulus="), Field(fields, "RSA-Modulus").Replace(":", "", StringComparison.Ordinal));
        Assert.Equal(Below("X509v3 Subject Alternative Name"), Field(fields, "X509v3-Subject-Alternative-Name"));
        Assert.Equal(Below("X509v3 Key Usage"), Field(fields, "X509v3-Key-Usage"));
        Assert.Equal(Below("X509v3 Basic Constraints"), Field(fields, "X509v3-Basic-Constraints"));
        Assert.Equal(Below("X509v3 Authority Key Identifier"), Field(fields, "X509v3-Authority-Key-Identifier"));
        var aia = Array.FindIndex(lines, l => l.StartsWith("Authority Information Access", StringComparison.Ordinal));
        Assert.Equal(lines[aia + 1] + ", " + lines[aia + 2], Field(fields, "X509v3-Authority-Information-Access"));
        Assert.Equal("URI:http://127.0.0.1:8080/ca.crl", Field(fields, "X509v3-CRL-Distribution-Points"));
        Assert.Contains("URI:http://127.0.0.1:8080/ca.crl", openssl.StandardOutput, StringComparison.Ordinal);

        Assert.Equal("alice", Field(fields, "Subject-CN"));
        Assert.Equal("Fields Test CA", Field(fields, "Issuer-CN"));
        Assert.Equal("3 (0x2)", Field(fields, "Certificate-Version"));
        // .NET's name builder writes the names in the reverse order of the calls: CN is the first in the DER.
        Assert.Equal("C=US,O=Example\\, Inc.,OU=Payments,CN=alice", Field(fields, "Subject"));
        Assert.Equal("CN=Fields Test CA,O=SslCluster Tests", Field(fields, "Issuer"));
        Assert.Equal("sha256WithRSAEncryption", Field(fields, "Data-Signature-Algorithm"));
        Assert.Equal("sha256WithRSAEncryption", Field(fields, "Signature-Algorithm"));
        Assert.Equal("rsaEncryption", Field(fields, "Public-Key-Algorithm"));
        Assert.Equal("2048", Field(fields, "RSA-Public-Key-Size"));
        Assert.Equal("2048", Field(fields, "RSA-Modulus-Size"));
        Assert.Equal("65537", Field(fields, "RSA-Exponent"));
        Assert.Equal(256 * 3 - 1, Field(fields, "Signature").Length);
        Assert.Equal(["alice.example.test"], fields.DnsNames);
        Assert.Equal(["spiffe://example.test/alice"], fields.Uris);
        Assert.Equal(Chain.Leaf, Convert.FromBase64String(string.Concat(fields.Pem.Split('\n')[1..^2])));
        Assert.Same(fields, CertificateFields.Of(Chain.Leaf));
    }

    [Fact]
    public void Of_EcdsaCertificate_NoRsaFieldsAndTheEcAlgorithmNames()
    {
        using var ca = TestCertificateAuthority.Create("EC CA");
        using var client = ca.IssueClient("bob");

        var fields = CertificateFields.Of(client.Der)!;

        Assert.Equal("id-ecPublicKey", Field(fields, "Public-Key-Algorithm"));
        Assert.Equal("ecdsa-with-SHA256", Field(fields, "Signature-Algorithm"));
        foreach (var rsa in new[] { "RSA-Public-Key-Size", "RSA-Modulus-Size", "RSA-Modulus", "RSA-Exponent" })
            Assert.Null(fields[CertificateFields.Names.ToList().IndexOf(rsa)]);
    }

    /// <summary>A self-signed certificate with raw extensions (signed without attaching the key: attaching it reads them).</summary>
    private static byte[] WithExtensions(params X509Extension[] extensions)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=hostile", key, HashAlgorithmName.SHA256);
        foreach (var extension in extensions) request.CertificateExtensions.Add(extension);
        using var certificate = request.Create(new X500DistinguishedName("CN=hostile"), X509SignatureGenerator.CreateForECDsa(key),
            DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), [0x01]);
        return certificate.RawData;
    }

    [Fact]
    public void Of_CertificateWithMalformedExtensions_ThoseFieldsLeftOutAndTheRestRead()
    {
        // Not DER at all where a SAN, an AIA and CRL distribution points should be.
        var der = WithExtensions(
            new X509Extension("2.5.29.17", [0x04, 0x01, 0xFF], false),
            new X509Extension("1.3.6.1.5.5.7.1.1", [0x02, 0x01, 0x05], false),
            new X509Extension("2.5.29.31", [0x30, 0x03, 0x02, 0x01, 0x05], false));

        var fields = CertificateFields.Of(der, keep: false)!;

        Assert.Equal("hostile", Field(fields, "Subject-CN"));
        foreach (var broken in new[] { "X509v3-Subject-Alternative-Name", "X509v3-Authority-Information-Access", "X509v3-CRL-Distribution-Points" })
            Assert.Null(fields[CertificateFields.Names.ToList().IndexOf(broken)]);
    }

    [Fact]
    public void Of_CertificateWhoseBasicConstraintsOrKeyUsageDoNotParse_NoFieldsAndNoException()
    {
        // BouncyCastle reads these two as it reads the certificate: such a certificate gives no fields at all.
        Assert.Null(CertificateFields.Of(WithExtensions(new X509Extension("2.5.29.19", [0x0C, 0x02, 0x41, 0x42], false)), keep: false));
        Assert.Null(CertificateFields.Of(WithExtensions(new X509Extension("2.5.29.15", [0x30, 0x80], false)), keep: false));
    }

    [Fact]
    public void Of_CertificateOverTheSizeLimit_NoFields()
    {
        var huge = new byte[CertificateFields.MaxCertificateBytes + 1];
        Chain.Leaf.CopyTo(huge, 0);

        Assert.Null(CertificateFields.Of(huge));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x30, 0x03, 0x02, 0x01, 0x01 })]
    public void Of_BytesThatAreNoCertificate_Null(byte[] der) => Assert.Null(CertificateFields.Of(der));

    private static HandshakeInfo Info(ClientAuthOutcome? auth, byte[]? serverCertificate = null) =>
        new(TlsVersion.Tls13, 0x1301, null, false, "b", null, auth) { ServerCertificate = serverCertificate };

    private static ClientAuthOutcome Verified(params byte[][] chain) =>
        new(ClientAuthResult.Verified, "CN=alice", "CN=CA", "4A01FF10", "ok") { Chain = chain };

    private static string[] Lines(HttpHeaderSettings settings, HandshakeInfo info)
    {
        using var exchange = new HttpExchange(null, false, HttpHeaderFields.For(settings, info));
        var forwarded = HttpExchangeTests.Forward(exchange, "GET / HTTP/1.1\r\n\r\n");
        return forwarded["GET / HTTP/1.1\r\n".Length..^4].Split("\r\n");
    }

    [Theory]
    [InlineData(ClientCertFields.All, 25)]
    [InlineData(ClientCertFields.Basic, 21)]
    public void For_ClientCertOfAVerifiedCertificate_ValidErrorAndTheFieldsInTheSslmOrder(ClientCertFields which, int count)
    {
        var lines = Lines(new HttpHeaderSettings { ClientCert = which }, Info(Verified(Chain.Leaf, Chain.Ca)));

        Assert.Equal(count, lines.Length);
        Assert.Equal("ClientCert-Valid: 1", lines[0]);
        Assert.Equal("ClientCert-Error: none", lines[1]);
        Assert.Equal(CertificateFields.Names.Take(count - 2).Select(n => "ClientCert-" + n), lines[2..].Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]));
        Assert.Contains("ClientCert-Subject-CN: alice", lines);
    }

    [Fact]
    public void For_ClientCertPem_TheCertificateUrlEncodedAndNoOtherField()
    {
        var lines = Lines(new HttpHeaderSettings { ClientCert = ClientCertFields.Pem }, Info(Verified(Chain.Leaf)));

        Assert.Equal(3, lines.Length);
        Assert.Equal(["ClientCert-Valid: 1", "ClientCert-Error: none"], lines[..2]);
        var pem = Uri.UnescapeDataString(lines[2]["ClientCert-PEM: ".Length..]);
        Assert.DoesNotContain('\n', lines[2]);
        Assert.Equal(Chain.Leaf, X509Certificate2.CreateFromPem(pem).RawData);
    }

    public static TheoryData<ClientAuthOutcome, string> Failures() => new()
    {
        { new ClientAuthOutcome(ClientAuthResult.Missing, null, null, null, "none sent"), "No Cert Data" },
        { new ClientAuthOutcome(ClientAuthResult.Untrusted, "CN=eve", "CN=X", "01", "unknown") { UnknownCa = true, Chain = [Chain.Leaf] }, "Cert Not In CA Pool" },
        { new ClientAuthOutcome(ClientAuthResult.Untrusted, "CN=eve", "CN=X", "01", "bad signature") { Chain = [Chain.Leaf] }, "Invalid Cert" },
        { new ClientAuthOutcome(ClientAuthResult.Expired, "CN=old", "CN=X", "01", "expired") { Chain = [Chain.Leaf] }, "Cert Date Expired" },
        { new ClientAuthOutcome(ClientAuthResult.Expired, "CN=new", "CN=X", "01", "not yet") { NotYetValid = true, Chain = [Chain.Leaf] }, "Cert Date Not Valid Yet" },
        { new ClientAuthOutcome(ClientAuthResult.Revoked, "CN=gone", "CN=X", "01", "listed") { Chain = [Chain.Leaf] }, "Cert Revoked" },
        { new ClientAuthOutcome(ClientAuthResult.RevocationUnavailable, "CN=a", "CN=X", "01", "no crl yet") { Chain = [Chain.Leaf] }, "CRL Get Failure" },
        { ClientAuthOutcome.NotRequested, "No Cert Data" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void For_ClientCertOfAFailedOutcome_ValidZeroAndTheSslmErrorString(ClientAuthOutcome outcome, string error)
    {
        var all = new HttpHeaderSettings { ClientCert = ClientCertFields.All, Xfcc = true, Rfc9440 = true };

        var lines = Lines(all, Info(outcome));

        Assert.Equal(["ClientCert-Valid: 0", "ClientCert-Error: " + error], lines[..2]);
        // The fields of a certificate that was sent still go (the server decides with Valid and Error); the standard
        // forms speak only for a verified one.
        Assert.Equal(outcome.Leaf is null ? 2 : 25, lines.Length);
        Assert.DoesNotContain(lines, l => l.StartsWith("X-Forwarded-Client-Cert", StringComparison.Ordinal) || l.StartsWith("Client-Cert", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ClientCert-Valid: 1")]
    [InlineData("clientcert-error: none")]
    [InlineData("ClientCert-RSA-Modulus: 00")]
    [InlineData("ClientCert_Subject_CN: admin")]
    [InlineData("ClientCert-PEM: x")]
    [InlineData("ServerCert-Fingerprint: 00")]
    [InlineData("X-Forwarded-Client-Cert: Hash=00")]
    [InlineData("x_forwarded_client_cert: Hash=00")]
    [InlineData("Client-Cert: :AA==:")]
    [InlineData("Client-Cert-Chain: :AA==:")]
    public void For_ClientForgesACertificateHeader_TakenOutEvenWhenWeInsertNoSuchLine(string forged)
    {
        using var ca = TestCertificateAuthority.Create("EC CA");
        using var client = ca.IssueClient("bob");
        var settings = new HttpHeaderSettings { ClientCert = ClientCertFields.Basic, ServerCert = true, Xfcc = true, Rfc9440 = true };
        // An EC client certificate (no RSA fields), a failed outcome (no XFCC, no Client-Cert), no server certificate known.
        var outcome = new ClientAuthOutcome(ClientAuthResult.Untrusted, "CN=bob", "CN=EC CA", "01", "x") { Chain = [client.Der] };
        using var exchange = new HttpExchange(null, false, HttpHeaderFields.For(settings, Info(outcome)));

        var forwarded = HttpExchangeTests.Forward(exchange, $"GET / HTTP/1.1\r\n{forged}\r\n\r\n");

        Assert.DoesNotContain(forged, forwarded, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("ClientCert-Valid: 0\r\n", forwarded, StringComparison.Ordinal);
    }

    [Fact]
    public void For_ServerCertAndPrefix_TheCertificateSentUnderThePrefixedNames()
    {
        var settings = new HttpHeaderSettings { ServerCert = true, Prefix = "SSL-" };

        var lines = Lines(settings, Info(null, serverCertificate: Chain.Ca));

        Assert.Equal("SSL-ServerCert-Fingerprint: " + CertificateFields.ColonHex(MD5.HashData(Chain.Ca)), lines[0]);
        Assert.Contains("SSL-ServerCert-Subject-CN: Fields Test CA", lines);
        Assert.Contains("SSL-ServerCert-X509v3-Basic-Constraints: CA:TRUE, pathlen:0", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("SSL-ServerCert-X509v3-Subject-Alternative-Name", StringComparison.Ordinal));
    }

    [Fact]
    public void For_XfccOfAVerifiedChain_HashCertChainSubjectUriAndDnsAsEnvoyWritesThem()
    {
        var line = Assert.Single(Lines(new HttpHeaderSettings { Xfcc = true, Prefix = "SSL-" }, Info(Verified(Chain.Leaf, Chain.Ca))));

        Assert.StartsWith($"X-Forwarded-Client-Cert: Hash={Convert.ToHexStringLower(SHA256.HashData(Chain.Leaf))};Cert=\"", line, StringComparison.Ordinal);
        var parts = line["X-Forwarded-Client-Cert: ".Length..].Split(';');
        var cert = Uri.UnescapeDataString(parts[1]["Cert=\"".Length..^1]);
        Assert.Equal(Chain.Leaf, X509Certificate2.CreateFromPem(cert).RawData);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(Uri.UnescapeDataString(parts[2]["Chain=\"".Length..^1]));
        Assert.Equal([Chain.Leaf, Chain.Ca], chain.Select(c => c.RawData));
        // Quoted as an HTTP quoted-string: the RFC 4514 backslash is escaped.
        Assert.Equal(["Subject=\"C=US,O=Example\\\\, Inc.,OU=Payments,CN=alice\"", "URI=spiffe://example.test/alice", "DNS=alice.example.test"], parts[3..]);
    }

    [Fact]
    public void For_ClientIpPortAndAliasesUnderAPrefix_AliasReplacesTheWholeNameAndBothNamesAreTakenOut()
    {
        var settings = new HttpHeaderSettings
        {
            ClientIpPort = true,
            ClientCert = ClientCertFields.Basic,
            Prefix = "SSL-",
            Aliases = ValueMap<string, string>.Empty.SetItem("ClientCert-Subject-CN", "X-User").SetItem("ClientPort", "X-Client-Port"),
        };
        var info = Info(Verified(Chain.Leaf)) with { Client = new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.5"), 40123) };
        using var exchange = new HttpExchange(null, false, HttpHeaderFields.For(settings, info));

        var forwarded = HttpExchangeTests.Forward(exchange, "GET / HTTP/1.1\r\nX-User: admin\r\nSSL-ClientCert-Subject-CN: admin\r\nSSL-ClientIP: 10.0.0.1\r\n\r\n");

        Assert.Contains("\r\nX-User: alice\r\n", forwarded, StringComparison.Ordinal);
        Assert.Contains("\r\nSSL-ClientIP: 127.0.0.5\r\n", forwarded, StringComparison.Ordinal);
        Assert.Contains("\r\nX-Client-Port: 40123\r\n", forwarded, StringComparison.Ordinal);
        Assert.DoesNotContain("admin", forwarded, StringComparison.Ordinal);
        Assert.DoesNotContain("10.0.0.1", forwarded, StringComparison.Ordinal);
        Assert.DoesNotContain("SSL-ClientCert-Subject-CN", forwarded, StringComparison.Ordinal);
        Assert.DoesNotContain("SSL-ClientPort", forwarded, StringComparison.Ordinal);
    }

    [Fact]
    public void For_Rfc9440_TheLeafAndTheRestOfTheChainAsByteSequences()
    {
        var lines = Lines(new HttpHeaderSettings { Rfc9440 = true }, Info(Verified(Chain.Leaf, Chain.Ca)));

        Assert.Equal([$"Client-Cert: :{Convert.ToBase64String(Chain.Leaf)}:", $"Client-Cert-Chain: :{Convert.ToBase64String(Chain.Ca)}:"], lines);
    }
}
