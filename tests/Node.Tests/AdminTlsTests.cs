using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Node;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Node.Tests;

/// <summary>The admin endpoint's PKCS#12 is checked at startup; each problem names the key and the file.</summary>
public sealed class AdminTlsTests : IDisposable
{
    private const string Password = "admin-pw";
    private readonly RsaTestAuthority _ca = RsaTestAuthority.Create("admin test CA");
    private readonly string _folder = Directory.CreateTempSubdirectory("sslnode-admin-tls-").FullName;

    private string Write(string name, byte[] content)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private string Pkcs12(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var issued = notBefore is { } from && notAfter is { } to
            ? _ca.IssueServer("admin.test", from, to, IPAddress.Loopback)
            : _ca.IssueServer("admin.test", IPAddress.Loopback);
        using var withKey = issued.ToX509WithKey();
        using var caPublic = X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData);
        var collection = new X509Certificate2Collection { withKey, caPublic };
        return Write(name, collection.Export(X509ContentType.Pkcs12, Password)!);
    }

    private static string Refusal(string path, string password) =>
        Assert.Throws<NodeStartupException>(() => AdminTls.Load(path, password, DateTimeOffset.UtcNow)).Message;

    [Fact]
    public void Load_CertificateKeyAndChain_ServesTheKeyedOneWithTheRestAsItsChain()
    {
        using var tls = AdminTls.Load(Pkcs12("admin.p12"), Password, DateTimeOffset.UtcNow);

        Assert.True(tls.Certificate.HasPrivateKey);
        Assert.Equal("CN=admin.test", tls.Certificate.Subject);
        Assert.Equal(_ca.Certificate.Subject, Assert.Single(tls.Chain).Subject);
    }

    [Fact]
    public void Load_MissingFile_NamesTheKeyAndTheFile()
    {
        var path = Path.Combine(_folder, "missing.p12");

        var message = Refusal(path, Password);

        Assert.Equal($"sslcluster.node.admin.tls.certificate: '{path}' does not exist", message);
    }

    [Fact]
    public void Load_WrongPassword_SaysWhereThePasswordComesFrom()
    {
        var path = Pkcs12("admin.p12");

        var message = Refusal(path, "not-the-password");

        Assert.StartsWith($"sslcluster.node.admin.tls.certificate: '{path}' cannot be opened as PKCS#12 with the password in SSLCLUSTER_ADMIN_TLS_PASSWORD", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NotPkcs12_Refused()
    {
        var path = Write("admin.pem", "-----BEGIN CERTIFICATE-----\n"u8.ToArray());

        Assert.Contains("cannot be opened as PKCS#12", Refusal(path, Password), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoPrivateKey_Refused()
    {
        using var issued = _ca.IssueServer("admin.test", IPAddress.Loopback);
        using var publicOnly = issued.ToX509();
        var path = Write("public.p12", publicOnly.Export(X509ContentType.Pkcs12, Password)!);

        var message = Refusal(path, Password);

        Assert.StartsWith($"sslcluster.node.admin.tls.certificate: '{path}' holds no private key", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Expired_SaysWhen()
    {
        var now = DateTimeOffset.UtcNow;
        var path = Pkcs12("expired.p12", now.AddDays(-30), now.AddDays(-1));

        var message = Refusal(path, Password);

        Assert.StartsWith($"sslcluster.node.admin.tls.certificate: '{path}' holds a certificate (CN=admin.test) that expired on ", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NotYetValid_Refused()
    {
        using var tls = AdminTls.Load(Pkcs12("admin.p12"), Password, DateTimeOffset.UtcNow);

        var e = Assert.Throws<NodeStartupException>(() => AdminTls.Load(Path.Combine(_folder, "admin.p12"), Password, tls.Certificate.NotBefore.AddDays(-1)));

        Assert.Contains("that is not valid before", e.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
