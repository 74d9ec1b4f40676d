using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Config;

public sealed class SslInitiationSampleTests
{
    private static string Sample(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Config", "Samples", name));

    [Fact]
    public void Parse_SslInitiationSample_LoadsAsPrintedAndPlansTlsTowardsTheRealServer()
    {
        var result = ConfigParser.Parse(Sample("ssl-init.cfg"));

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var plan = RuntimePlan.Build(1, result.Config!);
        var listener = Assert.Single(plan.Listeners);
        Assert.Equal(("172.18.87.101", 80, ListenerKind.TcpRelay), (listener.Vip, listener.Port, listener.Kind));
        var target = Assert.Single(listener.Servers);
        // Clear text in on 172.18.87.101:80, TLS out to the real server's 443, counted under module ssl2 (slot 2)
        // in the row of the backend-server's pick-up address.
        Assert.Equal(("ssl-init", "10.10.20.111", 443), (target.Name, target.Address, target.Port));
        var backend = Assert.IsType<BackendServerPlan>(target.Backend);
        Assert.Equal((BackendServerType.Initiation, "ssl2", "10.10.20.111", 80), (backend.Server.Type, backend.InitiationModule, backend.RowVirtual, backend.RowPort));
    }

    [Fact]
    public void Parse_BackendServerName_NormalisedPrintedBackAndRemovable()
    {
        var result = ConfigParser.Parse("ssl-proxy-list spl\nbackend-server 10\nbackend-server 10 server-ip 10.0.0.5\nbackend-server 10 server-name Backend1.Example.COM.\n");

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal("backend1.example.com", result.Config!.ProxyLists["spl"].BackendServers[10].ServerName);
        var printed = ConfigPrinter.Print(result.Config);
        Assert.Contains("backend-server 10 server-name backend1.example.com", printed, StringComparison.Ordinal);
        Assert.Equal(result.Config, ConfigParser.Parse(printed).Config);

        var removed = ConfigParser.Parse(printed + "ssl-proxy-list spl\nno backend-server 10 server-name\n");
        Assert.True(removed.Succeeded, string.Join("\n", removed.Errors));
        Assert.Null(removed.Config!.ProxyLists["spl"].BackendServers[10].ServerName);
    }

    [Theory]
    [InlineData("bad_name")]
    [InlineData("-lead.example")]
    [InlineData("10.0.0.5")]
    [InlineData("a..b")]
    public void Parse_BackendServerNameNotADnsName_RefusedSayingWhy(string name)
    {
        var result = ConfigParser.Parse($"ssl-proxy-list spl\nbackend-server 10\nbackend-server 10 server-name {name}\n");

        Assert.False(result.Succeeded);
        Assert.Contains("is not a DNS host name", string.Join("\n", result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SslServerAlpn_KeptInOrderPrintedBackAndResetByNo()
    {
        var result = ConfigParser.Parse("ssl-proxy-list spl\nssl-server 1\nssl-server 1 alpn H2 http/1.1\n");

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(["h2", "http/1.1"], result.Config!.ProxyLists["spl"].SslServers[1].Alpn);
        var printed = ConfigPrinter.Print(result.Config);
        Assert.Contains("ssl-server 1 alpn h2 http/1.1", printed, StringComparison.Ordinal);
        Assert.Equal(result.Config, ConfigParser.Parse(printed).Config);
        Assert.Equal(SslServer.DefaultAlpn, ConfigParser.Parse(printed + "ssl-proxy-list spl\nno ssl-server 1 alpn\n").Config!.ProxyLists["spl"].SslServers[1].Alpn);
        Assert.DoesNotContain("alpn", ConfigPrinter.Print(ConfigParser.Parse("ssl-proxy-list spl\nssl-server 1\n").Config!), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssl-server 1 alpn", "alpn PROTOCOL")]
    [InlineData("ssl-server 1 alpn h2 h2", "listed twice")]
    public void Parse_SslServerAlpnBad_RefusedSayingWhy(string line, string why)
    {
        var result = ConfigParser.Parse($"ssl-proxy-list spl\nssl-server 1\n{line}\n");

        Assert.False(result.Succeeded);
        Assert.Contains(why, string.Join("\n", result.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssl-server 1 http-reuse", SslServer.DefaultHttpReuseSeconds, "ssl-server 1 http-reuse\n")]
    [InlineData("ssl-server 1 http-reuse 30", 30, "ssl-server 1 http-reuse 30\n")]
    public void Parse_SslServerHttpReuse_PrintedBackAndRemovedByNo(string line, int seconds, string printedLine)
    {
        var result = ConfigParser.Parse($"ssl-proxy-list spl\nssl-server 1\n{line}\n");

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(seconds, result.Config!.ProxyLists["spl"].SslServers[1].HttpReuseSeconds);
        var printed = ConfigPrinter.Print(result.Config);
        Assert.Contains("  " + printedLine, printed, StringComparison.Ordinal);
        Assert.Equal(result.Config, ConfigParser.Parse(printed).Config);
        Assert.Equal(0, ConfigParser.Parse(printed + "ssl-proxy-list spl\nno ssl-server 1 http-reuse\n").Config!.ProxyLists["spl"].SslServers[1].HttpReuseSeconds);
        Assert.DoesNotContain("http-reuse", ConfigPrinter.Print(ConfigParser.Parse("ssl-proxy-list spl\nssl-server 1\n").Config!), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssl-server 1 http-reuse 0", "http-reuse idle time")]
    [InlineData("ssl-server 1 http-reuse 3601", "http-reuse idle time")]
    [InlineData("ssl-server 1 http-reuse soon", "http-reuse idle time")]
    [InlineData("ssl-server 1 http-reuse 5 6", "http-reuse [SECONDS]")]
    [InlineData("ssl-server 1 http-resue", "did you mean 'http-reuse'")]
    public void Parse_SslServerHttpReuseBad_RefusedSayingWhy(string line, string why)
    {
        var result = ConfigParser.Parse($"ssl-proxy-list spl\nssl-server 1\n{line}\n");

        Assert.False(result.Succeeded);
        Assert.Contains(why, string.Join("\n", result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SslServerOcspUrl_PrintedBackRemovableAndOnlyPlainHttp()
    {
        var result = ConfigParser.Parse("ssl-proxy-list spl\nssl-server 1\nssl-server 1 ocsp-url \"http://ocsp.example.com/\"\n");

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal("http://ocsp.example.com/", result.Config!.ProxyLists["spl"].SslServers[1].OcspUrl);
        var printed = ConfigPrinter.Print(result.Config);
        Assert.Contains("ssl-server 1 ocsp-url \"http://ocsp.example.com/\"", printed, StringComparison.Ordinal);
        Assert.Equal(result.Config, ConfigParser.Parse(printed).Config);
        Assert.Null(ConfigParser.Parse(printed + "ssl-proxy-list spl\nno ssl-server 1 ocsp-url\n").Config!.ProxyLists["spl"].SslServers[1].OcspUrl);
        Assert.Contains("not a usable URL", string.Join("\n", ConfigParser.Parse("ssl-proxy-list spl\nssl-server 1\nssl-server 1 ocsp-url \"https://ocsp.example.com/\"\n").Errors), StringComparison.Ordinal);
    }
}
