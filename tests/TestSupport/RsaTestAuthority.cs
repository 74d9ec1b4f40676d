using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.TestSupport;

/// <summary>
/// An RSA test certificate authority for the back-end leg: issues TLS server certificates (EKU serverAuth, SANs for
/// the loopback addresses the real servers listen on) and client certificates (EKU clientAuth), RSA-2048 so that a
/// node can take them as <c>rsakey</c>/<c>rsacert</c>. Its certificate is written as PEM for <c>cacert</c> imports.
/// Dispose deletes its folder (issued certificates keep their own folders).
/// </summary>
public sealed class RsaTestAuthority : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");
    private readonly TestCertificate _files;
    private long _nextSerial = 0x2000;

    private RsaTestAuthority(string name)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=" + name + ", O=SslCluster Tests", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        Certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        _files = new TestCertificate(Certificate.RawData, key, NewFolder("sslcluster-rsaca-"));
    }

    /// <summary>The CA certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>PEM of the CA certificate (importable with <c>copy ssl file:PATH import NAME pem "PASSWORD"</c>).</summary>
    public string CertificatePemPath => _files.CertificatePemPath;

    public static RsaTestAuthority Create(string name) => new(name);

    /// <summary>A server certificate for <paramref name="commonName"/>, valid for the given addresses too.</summary>
    public TestCertificate IssueServer(string commonName, params IPAddress[] addresses) => Server(commonName, null, addresses);

    /// <summary>A server certificate valid only from <paramref name="notBefore"/> to <paramref name="notAfter"/> (an expired one when both are past).</summary>
    public TestCertificate IssueServer(string commonName, DateTimeOffset notBefore, DateTimeOffset notAfter, params IPAddress[] addresses) =>
        Server(commonName, (notBefore, notAfter), addresses);

    private TestCertificate Server(string commonName, (DateTimeOffset, DateTimeOffset)? validity, IPAddress[] addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(commonName);
        foreach (var a in addresses) san.AddIpAddress(a);
        return Issue("CN=" + commonName, ServerAuthentication, X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, san, null, validity);
    }

    /// <summary>A cluster node's remoting certificate: both server and client authentication (mutual TLS), as PKCS#12.</summary>
    public string IssueNodePkcs12(string commonName, string password)
    {
        using var node = Issue("CN=" + commonName, ServerAuthentication, X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, null, ClientAuthentication);
        using var withKey = node.ToX509WithKey();
        var path = Path.Combine(NewFolder("sslcluster-node-"), commonName + ".p12");
        File.WriteAllBytes(path, withKey.Export(X509ContentType.Pkcs12, password));
        return path;
    }

    /// <summary>A client certificate whose subject is <paramref name="subject"/> (e.g. "CN=css backend client, O=Tests").</summary>
    public TestCertificate IssueClient(string subject) =>
        Issue(subject, ClientAuthentication, X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, null);

    private TestCertificate Issue(string subject, Oid usage, X509KeyUsageFlags keyUsage, SubjectAlternativeNameBuilder? san, Oid? secondUsage = null,
        (DateTimeOffset From, DateTimeOffset To)? validity = null)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(secondUsage is null ? [usage] : [usage, secondUsage], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        if (san is not null) request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        byte[] serial = BitConverter.GetBytes(Interlocked.Increment(ref _nextSerial));
        Array.Reverse(serial);
        var (from, to) = validity ?? (now.AddMinutes(-5), now.AddDays(2));
        using var certificate = request.Create(Certificate, from < Certificate.NotBefore ? Certificate.NotBefore : from, to, serial);
        return new TestCertificate(certificate.RawData, key, NewFolder("sslcluster-issued-"));
    }

    private static string NewFolder(string prefix) =>
        System.IO.Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"))).FullName;

    /// <summary>Deletes the CA's key and folder (issued certificates are disposed by their owners).</summary>
    public void Dispose()
    {
        Certificate.Dispose();
        _files.Dispose();
    }
}

/// <summary>Conversions of a <see cref="TestCertificate"/> for servers and for the node's import command.</summary>
public static class TestCertificateFiles
{
    /// <summary>The certificate with its private key, loaded through PKCS#12 so that SslStream can serve it on any platform.</summary>
    public static X509Certificate2 ToX509WithKey(this TestCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var cert = X509CertificateLoader.LoadCertificate(certificate.Der);
        using var withKey = certificate.Key switch
        {
            RSA rsa => cert.CopyWithPrivateKey(rsa),
            ECDsa ecdsa => cert.CopyWithPrivateKey(ecdsa),
            _ => throw new NotSupportedException(certificate.Key.GetType().Name),
        };
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// Writes the key and the certificate into one PEM file (next to the others) and returns its path: the node's
    /// <c>copy ssl file:PATH import NAME pem "PASSWORD"</c> stores it as NAME-key and NAME-cert.
    /// </summary>
    public static string WriteKeyAndCertificatePem(this TestCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var path = Path.Combine(certificate.Directory, "key-and-cert.pem");
        File.WriteAllText(path, File.ReadAllText(certificate.KeyPemPath) + File.ReadAllText(certificate.CertificatePemPath));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
