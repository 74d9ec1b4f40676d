using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using SslCluster.Node;
using Xunit;

namespace SslCluster.Node.Tests;

public sealed class SeedDnsTests
{
    private static readonly IPAddress[] Pods =
        [IPAddress.Parse("10.1.0.12"), IPAddress.Parse("fd00::2"), IPAddress.Parse("10.1.0.3"), IPAddress.Parse("::ffff:10.1.0.7"), IPAddress.Parse("10.1.0.3")];

    [Fact]
    public void SeedsFrom_AnyOrderOfAnswers_SameOrderIPv4FirstByBytes()
    {
        var seeds = SeedDns.SeedsFrom(Pods, 4100, tls: true, ownHost: "sslcluster-1.sslcluster");
        var shuffled = SeedDns.SeedsFrom(Pods.Reverse(), 4100, tls: true, ownHost: "sslcluster-1.sslcluster");

        Assert.Equal(
            ["akka.ssl.tcp://sslcluster@10.1.0.3:4100", "akka.ssl.tcp://sslcluster@10.1.0.7:4100", "akka.ssl.tcp://sslcluster@10.1.0.12:4100", "akka.ssl.tcp://sslcluster@[fd00::2]:4100"],
            seeds);
        Assert.Equal(seeds, shuffled);
    }

    [Fact]
    public void SeedsFrom_OwnHostIsAnIPv4Address_KeepsIPv4OnlyPlainScheme()
    {
        var seeds = SeedDns.SeedsFrom(Pods, 4053, tls: false, ownHost: "10.1.0.3");

        Assert.Equal(3, seeds.Count);
        Assert.All(seeds, s => Assert.StartsWith("akka.tcp://sslcluster@10.1.0.", s, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("sslcluster")]
    [InlineData("sslcluster:0")]
    [InlineData("sslcluster:70000")]
    [InlineData(":4100")]
    [InlineData("sslcluster:41x")]
    public void ParseTarget_NotNameColonPort_SaysWhatItTakes(string value)
    {
        var e = Assert.Throws<FormatException>(() => SeedDns.ParseTarget(value));

        Assert.Contains("NAME:PORT", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeedDnsOptionBadValue_RefusedAtTheCommandLine()
    {
        var e = Assert.Throws<ArgumentException>(() => NodeOptions.Parse(["--seed-dns", "sslcluster"]));

        Assert.Contains("--seed-dns takes NAME:PORT", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyAsync_NameAnswersOnThirdTry_SeedsFromTheAnswer()
    {
        var config = NodeOptions.Parse(["--seed-dns", "sslcluster.ns.svc:4100", "--hostname", "10.1.0.12", "--set", "sslcluster.node.seed-dns-stable=0s"]).Config;
        var calls = 0;
        Task<IPAddress[]> Resolve(string name)
        {
            Assert.Equal("sslcluster.ns.svc", name);
            return ++calls < 3 ? Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)) : Task.FromResult(Pods);
        }

        var resolved = await SeedDns.ApplyAsync(config, Resolve, TimeSpan.FromMilliseconds(1), _ => { });

        Assert.Equal(3, calls);
        Assert.Equal("akka.tcp://sslcluster@10.1.0.3:4100", resolved.GetStringList("akka.cluster.seed-nodes")[0]);
    }

    [Fact]
    public async Task ApplyAsync_NameNeverAnswers_StartupErrorNamingIt()
    {
        var config = ConfigurationFactory.ParseString("sslcluster.node.seed-dns = \"nowhere:4100\"\nsslcluster.node.seed-dns-timeout = 50ms\nakka.remote.dot-netty.tcp.hostname = \"10.1.0.3\"");

        var e = await Assert.ThrowsAsync<NodeStartupException>(() => SeedDns.ApplyAsync(config,
            _ => Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)), TimeSpan.FromMilliseconds(10), _ => { }));

        Assert.Contains("'nowhere' gave no seed list", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyAsync_AnswerGrowsThenSettles_WaitsForMinimumAndStability()
    {
        var config = NodeOptions.Parse(["--seed-dns", "sslcluster:4100", "--hostname", "10.1.0.3",
            "--set", "sslcluster.node.seed-dns-min-addresses=2", "--set", "sslcluster.node.seed-dns-stable=50ms"]).Config;
        var answers = new Queue<IPAddress[]>([[Pods[2]], [Pods[2], Pods[0]], [Pods[2], Pods[0], Pods[3]]]);
        var calls = 0;
        Task<IPAddress[]> Resolve(string _)
        {
            calls++;
            return Task.FromResult(answers.Count > 1 ? answers.Dequeue() : answers.Peek());
        }

        var resolved = await SeedDns.ApplyAsync(config, Resolve, TimeSpan.FromMilliseconds(20), _ => { });

        // Not the first answer (one address) nor the second (it changed right after): the settled one, three seeds.
        Assert.Equal(3, resolved.GetStringList("akka.cluster.seed-nodes").Count);
        Assert.True(calls >= 4, $"resolved {calls} times");
    }

    [Fact]
    public async Task ApplyAsync_HostNameNotAnIpAddress_StartupErrorSaysWhy()
    {
        var config = NodeOptions.Parse(["--seed-dns", "sslcluster:4100", "--hostname", "sslcluster-0.sslcluster"]).Config;

        var e = await Assert.ThrowsAsync<NodeStartupException>(() => SeedDns.ApplyAsync(config, _ => Task.FromResult(Pods), TimeSpan.FromMilliseconds(1), _ => { }));

        Assert.Contains("--hostname ADDRESS", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyAsync_SeedsAlsoGiven_DnsNotAsked()
    {
        var config = NodeOptions.Parse(["--seed-dns", "sslcluster:4100", "--seed", "akka.tcp://sslcluster@10.0.0.1:4100"]).Config;

        var resolved = await SeedDns.ApplyAsync(config, _ => throw new InvalidOperationException("asked"), TimeSpan.FromMilliseconds(1), _ => { });

        Assert.Equal(["akka.tcp://sslcluster@10.0.0.1:4100"], resolved.GetStringList("akka.cluster.seed-nodes"));
    }
}
