using System.Net;
using System.Net.Sockets;
using SslCluster.Cli;
using Xunit;

namespace SslCluster.Cli.Tests;

/// <summary>Exit codes and messages a script can rely on, without a node.</summary>
public sealed class SslCtlTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SslCtl.RunAsync(args, new StringReader(""), stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static int ClosedPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Run_NoArguments_PrintsUsageAndExitsTwo()
    {
        var (code, _, err) = await Run();

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("usage: sslctl", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Help_PrintsUsageAndExitsZero()
    {
        var (code, output, _) = await Run("--help");

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("show ssl flows", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_MissingTokenFile_SaysWhereItLookedAndExitsTwo()
    {
        var (code, _, err) = await Run("--data-dir", "/nonexistent-dir", "show", "running-config");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("/nonexistent-dir/admin.token", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_BadEndpoint_ExitsTwo()
    {
        var (code, _, err) = await Run("--endpoint", "ftp://x", "--token", "t", "show", "running-config");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("not an http(s) URL", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_NodeNotListening_ExitsThree()
    {
        var (code, _, err) = await Run("--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", "show", "running-config");

        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains("cannot reach the node", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-o", "yaml")]
    [InlineData("--output", "xml")]
    public async Task Run_UnknownOutputFormat_ExitsTwoNamingTheChoices(string option, string format)
    {
        var (code, _, err) = await Run("--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", option, format, "cluster", "show");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains($"{option} takes json or text, not '{format}'", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--watch", "0", "show ssl flows", "--watch takes the seconds between refreshes")]
    [InlineData("--times", "-1", "show ssl flows", "--times takes how many refreshes")]
    [InlineData("--watch", "2", "configure x.cfg", "--watch and --times repeat a read command")]
    [InlineData("--watch", "2", "node drain", "--watch and --times repeat a read command")]
    public async Task Run_BadLiveView_ExitsTwoSayingWhy(string option, string value, string command, string expected)
    {
        var (code, _, err) = await Run(["--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", option, value, .. command.Split(' ')]);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(expected, err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_UnknownClusterShardingCommand_ExitsTwoNamingThePalette()
    {
        var (code, _, err) = await Run("--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", "cluster-sharding", "shard-count");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("'cluster-sharding regions', 'cluster-sharding region-stats' or 'cluster-sharding shard-stats TYPE'", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("module")]
    [InlineData("module", "a", "module", "b")]
    [InlineData("vip", "127.0.0.1")]
    [InlineData("limit")]
    [InlineData("limit", "5", "limit", "6")]
    public async Task Run_BadConnectionsFilter_ExitsTwoWithTheGrammar(params string[] filter)
    {
        var (code, _, err) = await Run(["--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", "show", "connections", .. filter]);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("show connections [module NAME] [client IP] [node ADDRESS] [limit N]", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", "limit must be from 1 to 10,000 connections per node, not 0")]
    [InlineData("10001", "limit must be from 1 to 10,000 connections per node, not 10001")]
    [InlineData("99999999999", "limit takes a number of connections per node, not '99999999999'")]
    [InlineData("-3", "limit takes a number of connections per node, not '-3'")]
    [InlineData("all", "limit takes a number of connections per node, not 'all'")]
    public async Task Run_ConnectionsLimitOutOfRange_ExitsTwoSayingWhichLimits(string limit, string error)
    {
        var (code, _, err) = await Run(["--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", "show", "connections", "module", "m", "limit", limit]);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(error, err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_UnknownCommand_ExitsTwoWithoutContactingANode()
    {
        var (code, _, err) = await Run("--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", "show", "everything");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("unknown show command", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ConfigureMissingFile_ExitsTwo()
    {
        var (code, _, err) = await Run("--endpoint", $"http://127.0.0.1:{ClosedPort()}", "--token", "t", "configure", "/nonexistent.cfg");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("does not exist", err, StringComparison.Ordinal);
    }
}
