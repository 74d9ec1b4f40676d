using Xunit;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tests.Config;

/// <summary>Every mistake gets an error naming where, what, why and the fix, and a rejected text changes nothing.</summary>
public sealed class ConfigErrorTests
{
    internal const string Base = """
        ssl associate rsakey k1 k1.key
        ssl associate cert c1 c1.pem
        ssl-proxy-list spl
          ssl-server 1
          ssl-server 1 rsakey k1
          ssl-server 1 rsacert c1
          ssl-server 1 vip address 10.0.0.1
          ssl-server 1 cipher all-cipher-suites 10.0.0.1 80
          active
        service web
          ip address 10.0.0.2
          port 8080
          active
        service mod
          type ssl-accel
          add ssl-proxy-list spl
          active
        owner o
          content https
            vip address 10.0.0.1
            port 443
            add service mod
            active
          content http
            vip address 10.0.0.1
            port 80
            add service web
            active
        """;

    private static RunningConfig BaseConfig()
    {
        var r = ConfigParser.Parse(Base);
        Assert.True(r.Succeeded, string.Join("\n", r.Errors));
        return r.Config!;
    }

    private static ConfigDiagnostic OnlyError(string text, RunningConfig? current = null)
    {
        var result = ConfigParser.Apply(current ?? BaseConfig(), text);
        Assert.False(result.Succeeded);
        Assert.Null(result.Config);
        return Assert.Single(result.Errors);
    }

    [Theory]
    [InlineData("ssl-proxy-list spl\nssl-server 1 raskey k1", "raskey", "did you mean 'rsakey'")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 vip adress 10.0.0.9", "adress", "did you mean 'address'")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 port 70000", "70000", "from 1 to 65535")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 port https", "https", "whole number")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 vip address 10.0.0", "10.0.0", "not an IP address")]
    [InlineData("ssl-proxy-list spl\nssl-server 300", "300", "from 1 to 255")]
    [InlineData("ssl-proxy-list spl\nssl-server 7 rsakey k1", "7", "create it first with a line 'ssl-server 7'")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 cipher rsa-with-rc4-128-mdd 10.0.0.1 80", "rsa-with-rc4-128-mdd", "did you mean 'rsa-with-rc4-128-md5'")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 cipher all-cipher-suites 10.0.0.1", "10.0.0.1", "cipher NAME IP PORT")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 version tls1", "tls1", "RFC 8996")]
    [InlineData("ssl-proxy-list spl\nssl-server 1 dsakey k1", "dsakey", "DSA keys")]
    [InlineData("ssl-proxy-list spl\nbackend-server 5 type backend-sll", "5", "create it first")]
    [InlineData("ssl-proxy-list spl9\nbackend-server 5\nbackend-server 5 type backend-sll", "backend-sll", "did you mean 'backend-ssl'")]
    [InlineData("servce web", "servce", "did you mean 'service'")]
    [InlineData("interface 1/1\n  bridge vlan 100\nservce web", "servce", "did you mean 'service'")]
    [InlineData("circuit VLAN50\n  ip address 10.0.0.9 255.255.255.0\n  redundncy", "redundncy", "did you mean 'redundancy'")]
    [InlineData("interface 1/1\n  frobnicate 1", "frobnicate", "unknown command in a hardware block")]
    [InlineData("service web\nweight 11", "11", "from 0 to 10")]
    [InlineData("service web\ntype ssl-acel", "ssl-acel", "did you mean 'ssl-accel'")]
    [InlineData("service web\nkeepalive type htp", "htp", "did you mean 'http'")]
    [InlineData("service mod\nadd ssl-proxy-list other", "other", "limited to one proxy list")]
    [InlineData("service web\nadd servce x", "servce", "add ssl-proxy-list NAME")]
    [InlineData("content x", "content", "belongs to an owner")]
    [InlineData("owner o\ncontent http\nadd sevice web", "sevice", "did you mean 'service'")]
    [InlineData("owner o\ncontent http\nremove service nothere", "nothere", "has no service")]
    [InlineData("owner o\ncontent http\nbalance fastest", "fastest", "unknown balance method")]
    [InlineData("ssl associate dsakey d d.key", "dsakey", "ssl genrsa")]
    [InlineData("ssl associate dhparam d d.pem", "dhparam", "ECDHE")]
    [InlineData("ssl genrsa k2 2048 \"pw\"", "genrsa", "sslctl ssl genrsa")]
    [InlineData("ssl associate cert k1 other.pem", "k1", "already associated as rsakey")]
    [InlineData("service web\ndescription \"unterminated", null, "quoted word is not closed")]
    [InlineData("no service ghost", "ghost", "no service named 'ghost'")]
    [InlineData("service web\nslot", "slot", "incomplete command; write 'slot N'")]
    [InlineData("service web\nport 80 81", "81", "unexpected word")]
    public void Apply_BadLine_NamesTheWordWhyAndFixAndChangesNothing(string text, string? word, string fragment)
    {
        var before = BaseConfig();

        var error = OnlyError(text, before);

        Assert.Equal(text.Split('\n').Length, error.Line);
        Assert.Equal(word, error.Word);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.Equal(BaseConfig(), before);
    }

    [Theory]
    [InlineData("no ssl-proxy-list spl", "service mod: ssl-proxy-list 'spl' does not exist")]
    [InlineData("ssl-proxy-list spl\nsuspend", "service mod: ssl-proxy-list spl is suspended")]
    [InlineData("no ssl associate rsakey k1", "rsakey 'k1' is not associated")]
    [InlineData("ssl-proxy-list spl\nno ssl-server 1 cipher all-cipher-suites", "no cipher line")]
    [InlineData("ssl-proxy-list spl\nno ssl-server 1 vip", "no VIP")]
    [InlineData("ssl-proxy-list spl\nno ssl-server 1 rsacert", "go together")]
    [InlineData("owner o\ncontent http\nport 443", "VIP 10.0.0.1 port 443 is already served")]
    [InlineData("owner o\ncontent http\nadd service mod", "mixes SSL modules")]
    [InlineData("owner o\ncontent http\nadd service ghost", "service 'ghost' does not exist")]
    [InlineData("service web\nno ip", "needs an address")]
    [InlineData("owner o\ncontent http\nprotocol udp", "UDP content rules")]
    [InlineData("service web\nadd ssl-proxy-list spl", "used by SSL services only")]
    public void Apply_ModelError_NamesTheObjectAndTheFix(string text, string fragment)
    {
        var error = OnlyError(text);

        Assert.Equal(0, error.Line);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_SeveralMistakes_ReportsEveryOne()
    {
        var result = ConfigParser.Apply(BaseConfig(), "service web\nweight 99\nservce x\nowner o\ncontent http\nport 0");

        Assert.Equal([2, 3, 6], result.Errors.Select(e => e.Line));
    }

    [Fact]
    public void Apply_GoodChange_KeepsEverythingElse()
    {
        var before = BaseConfig();

        var result = ConfigParser.Apply(before, "service web\nweight 0");

        Assert.True(result.Succeeded);
        Assert.Equal(0, result.Config!.Services["web"].Weight);
        Assert.Equal(before with { Services = before.Services.SetItem("web", before.Services["web"] with { Weight = 0 }) }, result.Config);
    }

    [Fact]
    public void Apply_FrontEndProcedureOfTheReference_ReassignsTheModulesProxyList()
    {
        var before = BaseConfig();
        var step1 = ConfigParser.Apply(before, """
            ssl-proxy-list spl2
            ssl-server 1
            ssl-server 1 rsakey k1
            ssl-server 1 rsacert c1
            ssl-server 1 vip address 10.0.0.1
            ssl-server 1 cipher ecdhe-rsa-with-aes-128-gcm-sha256 10.0.0.1 80
            active
            service mod
            weight 0
            """);
        Assert.True(step1.Succeeded, string.Join("\n", step1.Errors));

        var step2 = ConfigParser.Apply(step1.Config!, "service mod\n remove ssl-proxy-list spl\n add ssl-proxy-list spl2\n weight 1\n active");

        Assert.True(step2.Succeeded, string.Join("\n", step2.Errors));
        Assert.Equal("spl2", step2.Config!.Services["mod"].ProxyList);
        Assert.Equal(1, step2.Config.Services["mod"].Weight);
    }

    [Fact]
    public void Apply_HardwareBlock_KnownLinesIgnoredAndGlobalCommandsEndIt()
    {
        var result = ConfigParser.Apply(BaseConfig(), """
            service extra
              ip address 10.0.0.3
            interface 1/1
              description "uplink"
              phy 100Mbps-FD
              admin-shutdown
            circuit VLAN50
              ip address 10.0.0.9 255.255.255.0
              redundancy
            no service extra
            interface 1/2
              bridge vlan 50
              exit
            service web
              weight 2
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(9, result.NotApplicable.Count());
        Assert.False(result.Config!.Services.ContainsKey("extra"));
        Assert.Equal(2, result.Config.Services["web"].Weight);
    }

    [Fact]
    public void Apply_CommentsBlankLinesAndExit_AreHonoured()
    {
        var result = ConfigParser.Apply(BaseConfig(), "! a comment\n\nowner o\n content http\n exit\n content x\n exit\nexit\n");

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.True(result.Config!.Owners["o"].Contents.ContainsKey("x"));
    }
}
