using Xunit;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tests.Config;

/// <summary>The sample configurations of the reference document load as printed (their keys associated first).</summary>
public sealed class ReferenceSampleTests
{
    internal static string Sample(string name) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Config", "Samples", name));

    /// <summary>The associations the samples assume exist on the box before they are pasted.</summary>
    internal const string Keys = """
        ssl associate rsakey mykeypair mykeypair.key
        ssl associate cert mycert mycert.pem
        ssl associate rsakey mykeypair1 mykeypair1.key
        ssl associate cert mycert1 mycert1.pem
        ssl associate rsakey mykeypair2 mykeypair2.key
        ssl associate cert mycert2 mycert2.pem
        ssl associate rsakey zakrsa zakrsakeypair
        ssl associate cert zak-cert-ass zak-cert
        """;

    [Fact]
    public void Parse_SslFlowSample_LoadsEveryObject()
    {
        var result = ConfigParser.Parse(Keys + "\n" + Sample("ssl-flow.cfg"));

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var config = result.Config!;
        var spl = config.ProxyLists["spl"];
        Assert.Equal(AdminState.Active, spl.State);
        var server = spl.SslServers[100];
        Assert.Equal("mykeypair", server.RsaKey);
        Assert.Equal("mycert", server.RsaCert);
        Assert.Equal("10.87.99.78", server.VipAddress);
        Assert.Equal(443, server.Port);
        Assert.Equal(new CipherEntry("rsa-with-rc4-128-md5", "192.191.134.165", 85), Assert.Single(server.Ciphers));
        Assert.Equal(2, spl.BackendServers.Count);
        Assert.Equal("192.191.134.171", spl.BackendServers[20].ServerIp);
        Assert.Equal(443, spl.BackendServers[20].ServerPort);
        var module = config.Services["sslmod"];
        Assert.Equal(ServiceType.SslAccel, module.Type);
        Assert.Equal(2, module.Slot);
        Assert.Equal("spl", module.ProxyList);
        Assert.Equal(KeepaliveType.None, module.Keepalive.Type);
        Assert.Equal(AdminState.Active, module.State);
        var sslVip = config.Owners["cisco"].Contents["SSL-VIP"];
        Assert.Equal(("10.87.99.78", 443), (sslVip.VipAddress, sslVip.Port!.Value));
        Assert.Equal(["sslmod"], sslVip.Services);
        var httpVip = config.Owners["cisco"].Contents["HTTP-VIP"];
        Assert.Equal(["bessl-svc1", "bessl-svc2"], httpVip.Services);
    }

    [Fact]
    public void Parse_SslFlowSample_WarnsThatRc4IsReplacedByModernSuites()
    {
        var result = ConfigParser.Parse(Keys + "\n" + Sample("ssl-flow.cfg"));

        var warnings = result.Warnings.ToList();
        Assert.Equal(3, warnings.Count); // one ssl-server cipher, two backend-server ciphers
        Assert.All(warnings, w =>
        {
            Assert.Equal("rsa-with-rc4-128-md5", w.Word);
            Assert.Contains("RC4", w.Message, StringComparison.Ordinal);
            Assert.Contains("ECDHE-RSA-AES128-GCM-SHA256", w.Message, StringComparison.Ordinal);
        });
        var text = (Keys + "\n" + Sample("ssl-flow.cfg")).Split('\n');
        Assert.StartsWith("ssl-server 100 cipher", text[warnings[0].Line - 1], StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_StrictCiphers_RefusesTheRc4Sample()
    {
        var result = ConfigParser.Parse(Keys + "\n" + Sample("ssl-flow.cfg"), new ConfigOptions { StrictCiphers = true });

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Word == "rsa-with-rc4-128-md5" && e.Message.Contains("strict", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_VariationsSample_RefusesTheRaskeyTypoWithLineWordAndFix()
    {
        var text = Keys + "\n" + Sample("variations.cfg");
        var typoLine = Array.FindIndex(text.Split('\n'), l => l.StartsWith("ssl-server 200 raskey", StringComparison.Ordinal)) + 1;

        var result = ConfigParser.Parse(text);

        Assert.False(result.Succeeded);
        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors, e => e.Line > 0);
        Assert.Equal(typoLine, error.Line);
        Assert.Equal("raskey", error.Word);
        Assert.Contains("not an ssl-server option", error.Message, StringComparison.Ordinal);
        Assert.Contains("did you mean 'rsakey'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"line {typoLine}: 'raskey'", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_VariationsSampleWithTypoFixed_LoadsTwoSslServers()
    {
        var text = Keys + "\n" + Sample("variations.cfg").Replace("raskey", "rsakey", StringComparison.Ordinal);

        var result = ConfigParser.Parse(text);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var spl = result.Config!.ProxyLists["spl"];
        Assert.Equal([100, 200], spl.SslServers.Keys);
        Assert.Equal("mykeypair2", spl.SslServers[200].RsaKey);
        Assert.Equal(4, result.Config.Owners["cisco"].Contents.Count);
    }

    [Fact]
    public void Parse_HitlessBaseSample_LoadsTwoModulesSharingTheFrontendList()
    {
        var result = ConfigParser.Parse(Keys + "\n" + Sample("hitless-base.cfg"));

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var config = result.Config!;
        Assert.Equal(443, config.ProxyLists["frontend"].SslServers[100].Port); // the default, not written
        Assert.Equal(["ssl2", "ssl3"], config.SslModules.Select(m => m.Name));
        Assert.Equal(["ssl3", "ssl2"], config.Owners["www.testbackendsssl.com"].Contents["SSL-VIP"].Services);
        Assert.Equal(BackendServerType.BackendSsl, config.ProxyLists["backend"].BackendServers[111].Type);
    }

    [Fact]
    public void Parse_HardwareLines_AreReportedNotApplicableAndNotDropped()
    {
        var result = ConfigParser.Parse(Sample("client-auth-global.cfg"));

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var notApplicable = result.NotApplicable.Select(d => d.Message[..d.Message.IndexOf("' ", StringComparison.Ordinal)]).ToList();
        Assert.Equal(
            ["'ip route 0.0.0.0 0.0.0.0 172.18.87.97 1", "'interface 1/1", "'bridge vlan 100", "'interface 1/2", "'bridge vlan 50", "'circuit VLAN50", "'ip address 172.18.87.98 255.255.255.240"],
            notApplicable);
        Assert.Equal(3, result.Config!.Associations.Count);
    }

    [Theory]
    [InlineData("ssl-flow.cfg")]
    [InlineData("hitless-base.cfg")]
    [InlineData("client-auth-global.cfg")]
    public void Print_ReferenceSample_ParsesBackToAnEqualModel(string sample)
    {
        var first = ConfigParser.Parse(Keys + "\n" + Sample(sample)).Config!;

        var printed = ConfigPrinter.Print(first);
        var second = ConfigParser.Parse(printed);

        Assert.True(second.Succeeded, string.Join("\n", second.Errors) + "\n" + printed);
        Assert.Equal(first, second.Config);
        Assert.Equal(printed, ConfigPrinter.Print(second.Config!));
    }

    [Fact]
    public void Print_SslFlowSample_OmitsDefaultsLikeTheCss()
    {
        var printed = ConfigPrinter.Print(ConfigParser.Parse(Keys + "\n" + Sample("ssl-flow.cfg")).Config!);

        Assert.DoesNotContain("type backend-ssl", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("ssl-server 100 port 443", printed, StringComparison.Ordinal);
        Assert.Contains("ssl-server 100 cipher rsa-with-rc4-128-md5 192.191.134.165 85", printed, StringComparison.Ordinal);
        Assert.Contains("type ssl-accel\n", printed, StringComparison.Ordinal);
    }
}
