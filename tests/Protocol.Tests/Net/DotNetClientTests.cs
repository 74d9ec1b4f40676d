using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>.NET HttpClient (SslStream over OpenSSL) through the proxy.</summary>
public sealed class DotNetClientTests
{
    [Theory]
    [InlineData(false, SslProtocols.Tls13)]
    [InlineData(true, SslProtocols.Tls12)]
    public async Task HttpClient_GetThroughProxy_ReturnsBackendPage(bool ecdsa,
        SslProtocols protocols)
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend("from HttpClient\n"), ecdsa: ecdsa);
        string expectedThumbprint = harness.Certificate.ToX509().Thumbprint;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = protocols,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate?.GetCertHashString() == expectedThumbprint,
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };

        string body = await http.GetStringAsync(new Uri($"https://localhost:{harness.Port}/dotnet"));

        Assert.Equal("from HttpClient\n", body);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(protocols == SslProtocols.Tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12,
            summary.Handshake!.Version);
    }
}
