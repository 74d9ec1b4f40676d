using SslCluster.Protocol.Admin;
using Xunit;

namespace SslCluster.Cli.Tests;

/// <summary>What tab offers, in the shell and in bash: command words, and the node's names where a name goes.</summary>
public sealed class CompletionTests
{
    private const string A1 = "akka.tcp://sslcluster@127.0.0.1:4101";
    private const string A2 = "akka.tcp://sslcluster@127.0.0.1:4102";

    private static readonly NamesResponse Names = new(
        [A1, A2], ["backend-server", "ssl-module"], ["ssl1", "ssl2", "web1"], ["plain", "secure"], ["list1"], ["ka1"], ["px1", "px2"]);

    private static IReadOnlyList<string> Shell(string line) => Cli.Shell.Complete(line, Names);

    [Theory]
    [InlineData("", "cluster cluster-sharding show clear configure ssl copy node completion help exit")]
    [InlineData("cl", "cluster cluster-sharding clear")]
    [InlineData("cluster ", "show leader tail shards join leave down rolling-restart")]
    [InlineData("cluster-sharding s", "shard-stats")]
    [InlineData("cluster-sharding shard-stats ", "backend-server ssl-module")]
    [InlineData("show ser", "service")]
    [InlineData("show service ", "ssl1 ssl2 web1")]
    [InlineData("show service ssl", "ssl1 ssl2")]
    [InlineData("show content ", "plain secure")]
    [InlineData("show ssl-proxy-list ", "list1")]
    [InlineData("show keepalive ", "ka1")]
    [InlineData("show ssl-proxy service ", "px1 px2")]
    [InlineData("show ssl-proxy conn service ", "px1 px2")]
    [InlineData("clear ssl-proxy stats ssl service ", "px1 px2")]
    [InlineData("show connections ", "module client node limit")]
    [InlineData("show connections module ", "ssl1 ssl2 web1 plain secure")]
    [InlineData("show connections module ssl1 ", "client node limit")]
    [InlineData("show connections client 127.0.0.1 node ", A1 + " " + A2)]
    [InlineData("cluster join ", A1 + " " + A2)]
    [InlineData("--endpoint http://x:1 -o json cluster le", "leader leave")]
    [InlineData("-o ", "text json")]
    [InlineData("--endpoint ", "")]
    [InlineData("show running-config ", "")]
    public void Complete_Line_OffersWhatMayComeNext(string line, string expected) =>
        Assert.Equal(expected.Split(' ', StringSplitOptions.RemoveEmptyEntries), Shell(line));

    [Fact]
    public void CompleteLine_AddressAfterAColon_CandidatesStartAfterBashsWordBreak()
    {
        // bash took "akka.tcp://sslcluster@127.0.0.1:41" apart at its colons; it replaces only what follows the last one.
        var offered = Completion.CompleteLine("sslctl cluster leave akka.tcp://sslcluster@127.0.0.1:41", " \t\n\"'><=;|&(:", Names);

        Assert.Equal(["4101", "4102"], offered);
    }

    [Fact]
    public void CompleteLine_NoNames_CommandWordsStillComplete() =>
        Assert.Equal(["show", "shards"], Completion.CompleteLine("sslctl cluster sh", " \t\n\"'><=;|&(:", NamesResponse.None));

    [Fact]
    public async Task Run_CompletionBash_PrintsAScriptThatRegistersTheFunction()
    {
        using var stdout = new StringWriter();
        var code = await SslCtl.RunAsync(["completion", "bash"], new StringReader(""), stdout, new StringWriter());

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("complete -o default -F _sslctl sslctl ./sslctl\n", stdout.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_CompleteWithoutANode_OffersTheCommandWords()
    {
        using var stdout = new StringWriter();
        var code = await SslCtl.RunAsync(["__complete", "sslctl --endpoint http://127.0.0.1:1 --token t show s", " :"], new StringReader(""), stdout, new StringWriter());

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal("ssl\nservice\nssl-proxy-list\nssl-proxy\n", stdout.ToString().ReplaceLineEndings("\n"));
    }
}
