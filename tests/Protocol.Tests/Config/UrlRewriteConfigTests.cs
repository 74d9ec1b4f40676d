using Xunit;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tests.Config;

/// <summary><c>ssl-server N urlrewrite NUMBER HOSTNAME [sslport PORT [clearport PORT]]</c> and its <c>no</c> form.</summary>
public sealed class UrlRewriteConfigTests
{
    private const string Base = "ssl-proxy-list spl\nssl-server 1\n";

    private static SslServer Server(string lines)
    {
        var result = ConfigParser.Parse(Base + lines);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Config!.ProxyLists["spl"].SslServers[1];
    }

    [Fact]
    public void Apply_HostOnly_UsesDefaultPorts()
    {
        var server = Server("ssl-server 1 urlrewrite 1 www.example.com");

        Assert.Equal(new UrlRewriteRule(1, "www.example.com", 443, 80), Assert.Single(server.UrlRewrites.Values));
    }

    [Fact]
    public void Apply_SslPortAndClearPort_AreKept()
    {
        var server = Server("ssl-server 1 urlrewrite 5 *.example.com sslport 8443 clearport 8080\nssl-server 1 urlrewrite 2 www.example.* SSLPORT 444");

        Assert.Equal(new UrlRewriteRule(5, "*.example.com", 8443, 8080), server.UrlRewrites[5]);
        Assert.Equal(new UrlRewriteRule(2, "www.example.*", 444), server.UrlRewrites[2]);
    }

    [Fact]
    public void Apply_SameRuleNumberAgain_ReplacesTheRule()
    {
        var server = Server("ssl-server 1 urlrewrite 1 a.example.com\nssl-server 1 urlrewrite 1 b.example.com");

        Assert.Equal("b.example.com", Assert.Single(server.UrlRewrites.Values).Host);
    }

    [Fact]
    public void Apply_NoForm_RemovesOnlyThatRule()
    {
        var server = Server("ssl-server 1 urlrewrite 1 a.example.com\nssl-server 1 urlrewrite 2 b.example.com\nno ssl-server 1 urlrewrite 1");

        Assert.Equal([2], server.UrlRewrites.Keys);
    }

    [Fact]
    public void Print_Rules_OmitsDefaultsButKeepsSslPortBeforeClearPort()
    {
        var config = ConfigParser.Parse(Base +
            "ssl-server 1 urlrewrite 1 www.example.com\n" +
            "ssl-server 1 urlrewrite 2 *.example.com sslport 8443\n" +
            "ssl-server 1 urlrewrite 3 www.example.* sslport 443 clearport 8080\n").Config!;

        var printed = ConfigPrinter.Print(config);

        Assert.Contains("ssl-server 1 urlrewrite 1 www.example.com\n", printed, StringComparison.Ordinal);
        Assert.Contains("ssl-server 1 urlrewrite 2 *.example.com sslport 8443\n", printed, StringComparison.Ordinal);
        Assert.Contains("ssl-server 1 urlrewrite 3 www.example.* sslport 443 clearport 8080\n", printed, StringComparison.Ordinal);
        Assert.Equal(config, ConfigParser.Reload(printed));
    }

    [Theory]
    [InlineData("ssl-server 1 urlrewrite", "urlrewrite", "urlrewrite NUMBER HOSTNAME")]
    [InlineData("ssl-server 1 urlrewrite 1", "1", "urlrewrite NUMBER HOSTNAME")]
    [InlineData("ssl-server 1 urlrewrite 33 www.example.com", "33", "from 1 to 32")]
    [InlineData("ssl-server 1 urlrewrite x www.example.com", "x", "whole number from 1 to 32")]
    [InlineData("ssl-server 1 urlrewrite 1 http://www.example.com", "http://www.example.com", "without 'http://'")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com:8080", "www.example.com:8080", "'clearport PORT'")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com/app", "www.example.com/app", "no path")]
    [InlineData("ssl-server 1 urlrewrite 1 www_example.com", "www_example.com", "not '_'")]
    [InlineData("ssl-server 1 urlrewrite 1 www..example.com", "www..example.com", "no empty label")]
    [InlineData("ssl-server 1 urlrewrite 1 **.example.com", "**.example.com", "single '*'")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com sslport 0", "0", "from 1 to 65535")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com sslport", "sslport", "'sslport' needs a port")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com clearport 8080", "clearport", "'clearport' comes after 'sslport'")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com sslprt 443", "sslprt", "did you mean 'sslport'")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com sslport 443 clearport 70000", "70000", "from 1 to 65535")]
    [InlineData("ssl-server 1 urlrewrite 1 www.example.com sslport 443 clearport 80 extra", "extra", "unexpected word")]
    [InlineData("no ssl-server 1 urlrewrite 4", "4", "has no urlrewrite rule 4 (it has none)")]
    [InlineData("no ssl-server 1 urlrewrite", "urlrewrite", "'no ssl-server 1 urlrewrite NUMBER'")]
    [InlineData("no ssl-server 1 urlrewrite 1 www.example.com", "www.example.com", "the rule number alone")]
    public void Apply_BadUrlRewriteLine_NamesTheWordWhyAndFix(string line, string word, string fragment)
    {
        var before = ConfigParser.Parse(Base).Config!;

        var result = ConfigParser.Apply(before, "ssl-proxy-list spl\n" + line);

        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors);
        Assert.Equal(2, error.Line);
        Assert.Equal(word, error.Word);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UrlRewriteWithAlpnH2_RefusedNamingBoth()
    {
        var list = new SslProxyList("spl")
        {
            SslServers = ValueMap<int, SslServer>.Empty.SetItem(1, new SslServer(1)
            {
                UrlRewrites = ValueMap<int, UrlRewriteRule>.Empty.SetItem(1, new UrlRewriteRule(1, "www.example.com")),
                Alpn = ValueList<string>.Empty.Add("h2").Add("http/1.1"),
            }),
        };
        var config = RunningConfig.Empty with { ProxyLists = RunningConfig.Empty.ProxyLists.SetItem("spl", list) };

        var errors = ConfigValidator.Validate(config).Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Message).ToList();

        Assert.Contains(errors, m => m.Contains("alpn 'h2' with urlrewrite rules", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_FailureRedirectWithAlpnH2_RefusedNamingBoth()
    {
        var server = new SslServer(1)
        {
            ClientAuth = ClientAuthSettings.Default with { Failure = ClientAuthFailureAction.Redirect },
            Alpn = ValueList<string>.Empty.Add("h2"),
        };
        var list = new SslProxyList("spl") { SslServers = ValueMap<int, SslServer>.Empty.SetItem(1, server) };
        var config = RunningConfig.Empty with { ProxyLists = RunningConfig.Empty.ProxyLists.SetItem("spl", list) };

        var errors = ConfigValidator.Validate(config).Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Message).ToList();

        Assert.Contains(errors, m => m.Contains("alpn 'h2' with 'failure redirect'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BackendCacertWithoutServerName_WarnsThatTheIpAddressIsChecked()
    {
        var backend = new BackendServer(10) { IpAddress = "10.0.0.3", ServerIp = "10.0.0.4", CaCert = "ca" };
        var list = new SslProxyList("spl") { State = AdminState.Active, BackendServers = ValueMap<int, BackendServer>.Empty.SetItem(10, backend) };
        var config = RunningConfig.Empty with { ProxyLists = RunningConfig.Empty.ProxyLists.SetItem("spl", list) };

        var warnings = ConfigValidator.Validate(config).Where(d => d.Severity == DiagnosticSeverity.Warning).Select(d => d.Message).ToList();
        var named = ConfigValidator.Validate(config with { ProxyLists = config.ProxyLists.SetItem("spl", list with { BackendServers = list.BackendServers.SetItem(10, backend with { ServerName = "app.example.com" }) }) });

        Assert.Contains(warnings, m => m.Contains("cacert without server-name", StringComparison.Ordinal) && m.Contains("10.0.0.4", StringComparison.Ordinal));
        Assert.DoesNotContain(named, d => d.Message.Contains("cacert without server-name", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ModelBuiltInCode_IsHeldToTheLanguageLimits()
    {
        var rules = ValueMap<int, UrlRewriteRule>.Empty;
        for (var i = 1; i <= 33; i++) rules = rules.SetItem(i, new UrlRewriteRule(i, $"h{i}.example.com"));
        rules = rules.SetItem(2, new UrlRewriteRule(2, "bad host", 0, 70000)).SetItem(3, new UrlRewriteRule(4, "x.example.com"));
        var list = new SslProxyList("spl") { SslServers = ValueMap<int, SslServer>.Empty.SetItem(1, new SslServer(1) { UrlRewrites = rules }) };
        var config = RunningConfig.Empty with { ProxyLists = RunningConfig.Empty.ProxyLists.SetItem("spl", list) };

        var errors = ConfigValidator.Validate(config).Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Message).ToList();

        Assert.Contains(errors, m => m.Contains("33 urlrewrite rules, but an ssl-server holds at most 32", StringComparison.Ordinal));
        Assert.Contains(errors, m => m.Contains("urlrewrite 2: host 'bad host'", StringComparison.Ordinal));
        Assert.Contains(errors, m => m.Contains("sslport 0 is not a port", StringComparison.Ordinal));
        Assert.Contains(errors, m => m.Contains("clearport 70000 is not a port", StringComparison.Ordinal));
        Assert.Contains(errors, m => m.Contains("filed under number 3 but carries number 4", StringComparison.Ordinal));
        Assert.Contains(errors, m => m.Contains("urlrewrite 33: rule numbers run from 1 to 32", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SameHostAndClearPortTwice_WarnsThatTheLaterRuleNeverApplies()
    {
        var result = ConfigParser.Parse(Base + "ssl-server 1 urlrewrite 1 WWW.example.com\nssl-server 1 urlrewrite 2 www.example.com sslport 8443");

        Assert.True(result.Succeeded);
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("urlrewrite 2: rule 1 already rewrites host", warning.Message, StringComparison.Ordinal);
    }
}
