using System.Net;
using Akka.Configuration;
using SslCluster.Actors.Settings;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>The admin endpoint's bearer token never crosses the network in clear text: off loopback, HTTPS or no start.</summary>
public sealed class AdminListenTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.2")]
    [InlineData("127.255.255.254")]
    [InlineData("::1")]
    [InlineData("[::1]")]
    public void Resolve_LoopbackWithoutCertificate_PlainHttp(string host)
    {
        var listen = AdminListen.Resolve(host, 9440, "");

        Assert.False(listen.Tls);
        Assert.StartsWith("http://", listen.Url, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.1.10")]
    [InlineData("128.0.0.1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("fe80::1")]
    public void Resolve_NotLoopbackWithoutCertificate_RefusedNamingBothKeys(string host)
    {
        var e = Assert.Throws<ConfigurationException>(() => AdminListen.Resolve(host, 9440, ""));

        Assert.Contains("sslcluster.node.admin.host", e.Message, StringComparison.Ordinal);
        Assert.Contains("sslcluster.node.admin.tls.certificate", e.Message, StringComparison.Ordinal);
        Assert.Contains("the admin token would cross the network in clear text", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0", "https://0.0.0.0:9440")]
    [InlineData("::", "https://[::]:9440")]
    [InlineData("10.1.2.3", "https://10.1.2.3:9440")]
    [InlineData("127.0.0.1", "https://127.0.0.1:9440")]
    public void Resolve_AnyAddressWithCertificate_Https(string host, string url)
    {
        var listen = AdminListen.Resolve(host, 9440, "/etc/sslcluster/admin.p12");

        Assert.True(listen.Tls);
        Assert.Equal(IPAddress.Parse(host), listen.Address);
        Assert.Equal(url, listen.Url);
    }

    [Fact]
    public void Resolve_HostName_RefusedAsNotAnAddress()
    {
        var e = Assert.Throws<ConfigurationException>(() => AdminListen.Resolve("localhost", 9440, ""));

        Assert.Contains("must be an IP address", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_AdminTlsCertificate_ReadFromItsKeyAndEmptyByDefault()
    {
        Assert.Equal("", SslClusterSettings.Create(ConfigurationFactory.Empty).AdminTlsCertificate);

        var s = SslClusterSettings.Create(ConfigurationFactory.ParseString("sslcluster.node.admin { host = \"0.0.0.0\", tls.certificate = \"/etc/a.p12\" }"));

        Assert.Equal("/etc/a.p12", s.AdminTlsCertificate);
        Assert.True(AdminListen.Resolve(s.AdminHost, s.AdminPort, s.AdminTlsCertificate).Tls);
    }
}
