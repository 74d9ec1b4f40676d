using System.Net;
using System.Security.Authentication;
using SslCluster.Cli;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Cli.Tests;

/// <summary>sslctl's client of a remote node's HTTPS admin endpoint: the node's own CA, and the host name, decide.</summary>
public sealed class AdminHttpTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>An HTTPS server on 127.0.0.1 with a certificate <paramref name="ca"/> issued for <paramref name="name"/> (and 127.0.0.1 when asked).</summary>
    private static (TlsHttpBackend Server, TestCertificate Certificate) Serve(RsaTestAuthority ca, string name, bool withAddress)
    {
        var certificate = withAddress ? ca.IssueServer(name, IPAddress.Loopback) : ca.IssueServer(name);
        return (new TlsHttpBackend(IPAddress.Loopback, certificate.ToX509WithKey(), "admin"), certificate);
    }

    private static Uri Endpoint(TlsHttpBackend server) => new($"https://127.0.0.1:{server.Port}");

    [Fact]
    public async Task Create_TheNodesCa_GetsTheAnswer()
    {
        using var ca = RsaTestAuthority.Create("admin test CA");
        var (server, certificate) = Serve(ca, "node1.admin.test", withAddress: true);
        await using var _ = server;
        using var __ = certificate;
        using var http = AdminHttp.Create(Endpoint(server), ca.CertificatePemPath, Timeout);

        using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, server.Requests);
    }

    /// <param name="client">The CA sslctl is given: "other" (another CA), "same" (the node's), "none" (the system's store).</param>
    [Theory]
    [InlineData("other", "node1.admin.test", true)]
    [InlineData("same", "node2.admin.test", false)]
    [InlineData("none", "node1.admin.test", true)]
    public async Task Create_ServerNotTrustedForThisEndpoint_FailsTheHandshakeBeforeAnyRequest(string client, string serverName, bool withAddress)
    {
        using var ca = RsaTestAuthority.Create("admin test CA");
        using var other = RsaTestAuthority.Create("another test CA");
        var (server, certificate) = Serve(ca, serverName, withAddress);
        await using var _ = server;
        using var __ = certificate;
        var caFile = client switch { "other" => other.CertificatePemPath, "same" => ca.CertificatePemPath, _ => null };
        using var http = AdminHttp.Create(Endpoint(server), caFile, Timeout);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri("/healthz", UriKind.Relative)));

        Assert.IsType<AuthenticationException>(e.InnerException);
        Assert.Equal(0, server.Requests);
    }

    [Fact]
    public void Create_MissingOrUnreadableCaFile_SaysWhich()
    {
        var folder = Directory.CreateTempSubdirectory("sslctl-ca-").FullName;
        try
        {
            var missing = Path.Combine(folder, "missing.pem");
            var notPem = Path.Combine(folder, "not.pem");
            File.WriteAllText(notPem, "not a certificate\n");
            var broken = Path.Combine(folder, "broken.pem");
            File.WriteAllText(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
            var https = new Uri("https://127.0.0.1:9440");

            Assert.Contains(missing, Assert.Throws<ArgumentException>(() => AdminHttp.Create(https, missing, Timeout)).Message, StringComparison.Ordinal);
            Assert.Contains("holds no PEM certificate", Assert.Throws<ArgumentException>(() => AdminHttp.Create(https, notPem, Timeout)).Message, StringComparison.Ordinal);
            Assert.Contains(broken, Assert.Throws<ArgumentException>(() => AdminHttp.Create(https, broken, Timeout)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Create_CaFileForAnHttpEndpoint_IsRefused()
    {
        using var ca = RsaTestAuthority.Create("admin test CA");

        var e = Assert.Throws<ArgumentException>(() => AdminHttp.Create(new Uri("http://127.0.0.1:9440"), ca.CertificatePemPath, Timeout));

        Assert.Contains("is not https", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_PlainHttpWithoutCa_SetsBaseAddressAndTimeout()
    {
        using var http = AdminHttp.Create(new Uri("http://127.0.0.1:9440"), null, Timeout);

        Assert.Equal((new Uri("http://127.0.0.1:9440"), Timeout), (http.BaseAddress, http.Timeout));
    }
}
