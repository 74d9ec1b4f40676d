using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Tls;

namespace SslCluster.TestSupport;

/// <summary>
/// A self-signed certificate generated at test time, with PEM copies in a private temporary folder for openssl and
/// curl. Nothing is ever written to the repository. Dispose deletes the folder.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    internal TestCertificate(byte[] der, AsymmetricAlgorithm key, string directory)
    {
        Der = der;
        Key = key;
        Directory = directory;
        CertificatePemPath = Path.Combine(directory, "cert.pem");
        KeyPemPath = Path.Combine(directory, "key.pem");
        File.WriteAllText(CertificatePemPath, PemEncoding.WriteString("CERTIFICATE", der) + "\n");
        byte[] pkcs8 = key switch
        {
            RSA rsa => rsa.ExportPkcs8PrivateKey(),
            ECDsa ecdsa => ecdsa.ExportPkcs8PrivateKey(),
            _ => throw new NotSupportedException(key.GetType().Name),
        };
        File.WriteAllText(KeyPemPath, PemEncoding.WriteString("PRIVATE KEY", pkcs8) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(KeyPemPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>DER of the certificate.</summary>
    public byte[] Der { get; }

    /// <summary>The private key (owned by this object).</summary>
    public AsymmetricAlgorithm Key { get; }

    /// <summary>Folder holding the PEM files.</summary>
    public string Directory { get; }

    /// <summary>PEM of the certificate, for curl --cacert and openssl -CAfile.</summary>
    public string CertificatePemPath { get; }

    /// <summary>PEM (PKCS#8) of the private key.</summary>
    public string KeyPemPath { get; }

    /// <summary>A fresh credential over a copy of the key (the credential owns its copy).</summary>
    public ServerCredential CreateCredential()
    {
        AsymmetricAlgorithm copy = Key switch
        {
            RSA rsa => CopyRsa(rsa),
            ECDsa ecdsa => CopyEcdsa(ecdsa),
            _ => throw new NotSupportedException(Key.GetType().Name),
        };
        return ServerCredential.Create([Der], copy);
    }

    /// <summary>The certificate as an X509Certificate2 (public part only).</summary>
    public X509Certificate2 ToX509() => X509CertificateLoader.LoadCertificate(Der);

    public void Dispose()
    {
        Key.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a process that is being killed; the temp folder is cleaned by the OS later.
        }
    }

    private static RSA CopyRsa(RSA rsa)
    {
        var copy = RSA.Create();
        copy.ImportPkcs8PrivateKey(rsa.ExportPkcs8PrivateKey(), out _);
        return copy;
    }

    private static ECDsa CopyEcdsa(ECDsa ecdsa)
    {
        var copy = ECDsa.Create();
        copy.ImportPkcs8PrivateKey(ecdsa.ExportPkcs8PrivateKey(), out _);
        return copy;
    }
}

/// <summary>Generates test certificates with System.Security.Cryptography's CertificateRequest.</summary>
public static class TestCertificates
{
    /// <summary>RSA-2048 self-signed certificate for <paramref name="hostName"/> (also valid for 127.0.0.1).</summary>
    public static TestCertificate CreateRsa(string hostName = "localhost")
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=" + hostName, key, HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
        return Finish(request, key, hostName, X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment);
    }

    /// <summary>ECDSA P-256 self-signed certificate for <paramref name="hostName"/> (also valid for 127.0.0.1).</summary>
    public static TestCertificate CreateEcdsa(string hostName = "localhost")
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + hostName, key, HashAlgorithmName.SHA256);
        return Finish(request, key, hostName, X509KeyUsageFlags.DigitalSignature);
    }

    private static TestCertificate Finish(CertificateRequest request, AsymmetricAlgorithm key, string hostName,
        X509KeyUsageFlags usage)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(hostName);
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));
        string directory = Path.Combine(Path.GetTempPath(), "sslcluster-test-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return new TestCertificate(certificate.RawData, key, directory);
    }
}

/// <summary>
/// A test certificate authority (ECDSA P-256, fast to sign with): issues client certificates, valid or expired, and
/// signs CRLs. Its certificate is written as PEM to a private temporary folder. Dispose deletes the folder.
/// </summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");
    private readonly ECDsa _key;
    private long _nextSerial = 0x1000;

    private TestCertificateAuthority(string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name + ", O=SslCluster Tests", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(notBefore, notAfter);
        Directory = Path.Combine(Path.GetTempPath(), "sslcluster-ca-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        CertificatePemPath = Path.Combine(Directory, "ca.pem");
        File.WriteAllText(CertificatePemPath, PemEncoding.WriteString("CERTIFICATE", Certificate.RawData) + "\n");
    }

    /// <summary>The CA certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA's private key in PKCS#8 PEM (for <c>openssl ocsp -rkey</c>).</summary>
    public string KeyPem => _key.ExportPkcs8PrivateKeyPem();

    /// <summary>The CA certificate without its key, as a configuration would trust it.</summary>
    public X509Certificate2 PublicCertificate => X509CertificateLoader.LoadCertificate(Certificate.RawData);

    /// <summary>Folder of the PEM file.</summary>
    public string Directory { get; }

    /// <summary>PEM of the CA certificate.</summary>
    public string CertificatePemPath { get; }

    /// <summary>A CA valid from 30 days ago (so it can issue already expired certificates) for a year, or over the given period.</summary>
    public static TestCertificateAuthority Create(string name = "SslCluster Test CA", DateTimeOffset? notBefore = null,
        DateTimeOffset? notAfter = null)
    {
        var now = DateTimeOffset.UtcNow;
        return new TestCertificateAuthority(name, notBefore ?? now.AddDays(-30), notAfter ?? now.AddYears(1));
    }

    /// <summary>
    /// A client certificate (ECDSA P-256, EKU clientAuth) for <paramref name="commonName"/>, valid for two days from
    /// five minutes ago unless a period is given (in the past for an expired one).
    /// </summary>
    /// <param name="ocspUrl">An OCSP responder named in the certificate's Authority Information Access, or none.</param>
    /// <param name="crlUrl">A CRL named in the certificate's CRL Distribution Points, or none.</param>
    public TestCertificate IssueClient(string commonName, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, string? ocspUrl = null,
        string? crlUrl = null)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + commonName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientAuthentication], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        if (ocspUrl is not null) request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension([ocspUrl], null));
        if (crlUrl is not null) request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([crlUrl]));
        var now = DateTimeOffset.UtcNow;
        var from = notBefore ?? now.AddMinutes(-5);
        var to = notAfter ?? now.AddDays(2);
        byte[] serial = BitConverter.GetBytes(Interlocked.Increment(ref _nextSerial));
        Array.Reverse(serial);
        using var certificate = request.Create(Certificate, from < Certificate.NotBefore ? Certificate.NotBefore : from,
            to > Certificate.NotAfter ? Certificate.NotAfter : to, serial);
        string directory = Path.Combine(Path.GetTempPath(), "sslcluster-client-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        return new TestCertificate(certificate.RawData, key, directory);
    }

    /// <summary>A DER CRL of this CA listing <paramref name="revoked"/>.</summary>
    public byte[] CreateCrl(IEnumerable<TestCertificate> revoked, DateTimeOffset? thisUpdate = null,
        DateTimeOffset? nextUpdate = null, long crlNumber = 1)
    {
        ArgumentNullException.ThrowIfNull(revoked);
        var builder = new CertificateRevocationListBuilder();
        var now = DateTimeOffset.UtcNow;
        foreach (var certificate in revoked)
        {
            using var x509 = certificate.ToX509();
            builder.AddEntry(x509, now.AddMinutes(-1), X509RevocationReason.KeyCompromise);
        }

        return builder.Build(Certificate, new System.Numerics.BigInteger(crlNumber), nextUpdate ?? now.AddDays(1),
            HashAlgorithmName.SHA256, null, thisUpdate ?? now.AddMinutes(-1));
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // The OS cleans the temporary folder later.
        }
    }
}
