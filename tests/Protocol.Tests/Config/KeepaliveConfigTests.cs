using Xunit;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tests.Config;

/// <summary>Keepalive lines of services, global keepalive blocks, and the two keepalive samples of the reference.</summary>
public sealed class KeepaliveConfigTests
{
    private static string Sample(string name) => ReferenceSampleTests.Sample(name);

    [Fact]
    public void Parse_ScriptedKeepaliveSample_LoadsUnchangedApartFromHardwareLines()
    {
        var result = ConfigParser.Parse(Sample("keepalive-script.cfg"));

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(11, result.NotApplicable.Count());
        var config = result.Config!;
        var sslkal = config.Services["sslkal"].Keepalive;
        Assert.Equal((KeepaliveType.Http, true, false, "/", 10, 30, 3), (sslkal.Type, sslkal.Encrypt, sslkal.MethodHead, sslkal.Uri, sslkal.FrequencySeconds, sslkal.RetryPeriodSeconds, sslkal.MaxFailure));
        Assert.Equal(ServiceType.SslInit, config.Services["sslkal"].Type);
        var script = config.Services["sslserver"].Keepalive;
        Assert.Equal((KeepaliveType.Script, "kal-service-check", "sslkal", true), (script.Type, script.Script, script.ScriptArgs, script.UseOutput));
    }

    [Fact]
    public void Parse_GlobalKeepaliveSample_LoadsAsPrintedWithAWarningForTheMissingListKal()
    {
        // The reference's service sslkal2 says 'add ssl-proxy-list kal' while its list is called 'sslkal'. For an
        // ssl-init service the list is only a preference (the backend-server is found in any active list), so the
        // sample loads unchanged and the operator is told.
        var result = ConfigParser.Parse(Sample("keepalive-global.cfg"));

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Contains(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning &&
            d.Message.Contains("service sslkal2: ssl-proxy-list 'kal' does not exist", StringComparison.Ordinal));
        Assert.Equal(11, result.NotApplicable.Count());
    }

    [Fact]
    public void Parse_GlobalKeepaliveSampleWithListNameFixed_LoadsTheGlobalKeepaliveAndNamedServices()
    {
        var text = Sample("keepalive-global.cfg").Replace("add ssl-proxy-list kal\n", "add ssl-proxy-list sslkal\n", StringComparison.Ordinal);

        var result = ConfigParser.Parse(text);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var config = result.Config!;
        var kal = config.Keepalives["sslkal"];
        Assert.Equal(("10.10.20.111", AdminState.Active, KeepaliveType.Http, true), (kal.IpAddress, kal.State, kal.Settings.Type, kal.Settings.Encrypt));
        Assert.Equal("sslkal", config.Services["realserver"].Keepalive.Named);
        Assert.Equal("sslkal", config.Services["sslkal2"].Keepalive.Named);
        Assert.False(config.Services["sslkal2"].Keepalive.MethodHead);
    }

    [Theory]
    [InlineData("keepalive-script.cfg")]
    [InlineData("keepalive-global.cfg")]
    public void Print_KeepaliveSample_ParsesBackToAnEqualModel(string sample)
    {
        var first = ConfigParser.ApplyLines(RunningConfig.Empty, Sample(sample), ConfigOptions.Default).Config;

        var printed = ConfigPrinter.Print(first);
        var (second, diagnostics) = ConfigParser.ApplyLines(RunningConfig.Empty, printed, ConfigOptions.Default);

        Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(first, second);
        Assert.Equal(printed, ConfigPrinter.Print(second));
    }

    [Fact]
    public void Print_ScriptedSample_WritesTheScriptLineAsTheReferenceDoes()
    {
        var printed = ConfigPrinter.Print(ConfigParser.Parse(Sample("keepalive-script.cfg")).Config!);

        Assert.Contains("  keepalive type script kal-service-check \"sslkal\" use-output\n", printed, StringComparison.Ordinal);
        Assert.Contains("  keepalive type http encrypt\n", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NamedKeepaliveTypo_SuggestsTheGlobalKeepalive()
    {
        var result = ConfigParser.Parse("keepalive web-kal\nip address 10.0.0.1\nactive\nservice web\nip address 10.0.0.1\nkeepalive type named web-kall\nactive");

        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors);
        Assert.Contains("keepalive 'web-kall' does not exist; did you mean 'web-kal'?", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../evil", "cannot start with '.'")]
    [InlineData("a/b", "letters, digits")]
    [InlineData(".hidden", "cannot start with '.'")]
    public void Parse_ScriptNameWithPath_IsRefused(string name, string why)
    {
        var result = ConfigParser.Parse($"service web\nip address 10.0.0.1\nkeepalive type script {name} \"x\"\nactive");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Message.Contains(why, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_BuiltInScriptOnMissingService_IsRefusedWithSuggestion()
    {
        var result = ConfigParser.Parse("service web\nip address 10.0.0.1\nactive\nservice chk\nip address 10.0.0.2\nkeepalive type script kal-service-check \"wbe\"\nactive");

        Assert.Contains(result.Errors, e => e.Message.Contains("checks service 'wbe', which does not exist; did you mean 'web'?", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_ActiveGlobalKeepaliveWithoutAddress_IsRefused()
    {
        var result = ConfigParser.Parse("keepalive k\ntype tcp\nactive");

        Assert.Contains(result.Errors, e => e.Message.Contains("keepalive k: an active global keepalive needs the address", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("keepalive frequency 1", "from 2 to 255")]
    [InlineData("keepalive retryperiod 256", "from 2 to 255")]
    [InlineData("keepalive maxfailure 11", "from 1 to 10")]
    [InlineData("keepalive type htp", "did you mean 'http'")]
    [InlineData("keepalive type http encrpyt", "did you mean 'encrypt'")]
    [InlineData("keepalive hash \"xyz\"", "32 hexadecimal digits")]
    public void Parse_KeepaliveOutOfRange_IsRefused(string line, string why)
    {
        var result = ConfigParser.Parse($"service web\nip address 10.0.0.1\n{line}");

        Assert.Contains(result.Errors, e => e.Message.Contains(why, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_GlobalKeepaliveCannotBeNamed()
    {
        var result = ConfigParser.Parse("keepalive k\nip address 10.0.0.1\ntype named other");

        Assert.Contains(result.Errors, e => e.Message.Contains("cannot take the state of another one", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_NoForms_ResetKeepaliveAttributesAndRemoveTheGlobalKeepalive()
    {
        var text = """
            keepalive k
              ip address 10.0.0.1
              type tcp
              port 81
              description "shared"
            service web
              ip address 10.0.0.1
              keepalive type http
              keepalive uri "/x"
              keepalive frequency 9
              no keepalive uri
              no keepalive frequency
            keepalive k
              no port
              no description
            """;

        var config = ConfigParser.Parse(text).Config!;
        Assert.Equal(new KeepaliveSettings { Type = KeepaliveType.Http }, config.Services["web"].Keepalive);
        Assert.Equal(new GlobalKeepalive("k") { IpAddress = "10.0.0.1", Settings = new KeepaliveSettings { Type = KeepaliveType.Tcp } }, config.Keepalives["k"]);

        var removed = ConfigParser.Apply(config, "no keepalive k").Config!;
        Assert.Empty(removed.Keepalives);
    }

    [Theory]
    [InlineData(KeepaliveType.Tcp, false, null, 80)]
    [InlineData(KeepaliveType.Tcp, false, 8080, 8080)]
    [InlineData(KeepaliveType.Ssl, false, null, 443)]
    [InlineData(KeepaliveType.Http, true, null, 443)]
    [InlineData(KeepaliveType.Http, false, null, 80)]
    public void EffectivePort_NoKeepalivePort_FollowsServicePortThenTypeDefault(KeepaliveType type, bool encrypt, int? servicePort, int expected)
    {
        Assert.Equal(expected, new KeepaliveSettings { Type = type, Encrypt = encrypt }.EffectivePort(servicePort));
    }
}
