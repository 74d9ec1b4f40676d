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
