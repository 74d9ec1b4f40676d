using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Admin;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>
/// How the asking node puts one node's <c>show connections</c> answer together: every part in sequence gives the whole
/// list; a missing part, a failure or the deadline gives none (the node is named silent), never a list cut short.
/// </summary>
public sealed class ConnectionPartsCollectorTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(SslClusterSettings.Reference))
{
    private const string Node = "akka.tcp://sslcluster@127.0.0.2:4100";

    private static List<ConnectionRow> Rows(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new ConnectionRow("ssl2", 7, $"127.0.0.1:{40000 + i}", "Relaying", 10_000 - i))];

    private (IActorRef Collector, Task<NodeStatsProtocol.NodeConnections?> Done) Start(TimeSpan timeout)
    {
        var done = new TaskCompletionSource<NodeStatsProtocol.NodeConnections?>(TaskCreationOptions.RunContinuationsAsynchronously);
        return (Sys.ActorOf(ConnectionPartsCollector.Props(done, timeout)), done.Task);
    }

    [Fact]
    public async Task Collect_EveryPartInSequence_OneAnswerWithEveryRowInOrder()
    {
        var rows = Rows(1_000);
        var parts = NodeStatsProtocol.Answer(Node, 1_200, rows, maxBytes: 20_000);
        var (collector, done) = Start(TimeSpan.FromSeconds(10));
        Watch(collector);

        foreach (var part in parts) collector.Tell(part);
        var answer = await done.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(parts.Count >= 3, $"{parts.Count} parts");
        Assert.NotNull(answer);
        Assert.Equal((Node, 1_200, 1, 1), (answer.Node, answer.Total, answer.Part, answer.Parts));
        Assert.Equal(rows, answer.Rows);
        ExpectTerminated(collector);
    }

    [Fact]
    public async Task Collect_APartMissing_NoAnswerRatherThanAShortList()
    {
        var parts = NodeStatsProtocol.Answer(Node, 1_000, Rows(1_000), maxBytes: 20_000);
        var (collector, done) = Start(TimeSpan.FromSeconds(10));

        foreach (var part in parts.Where(p => p.Part != 2)) collector.Tell(part);

        Assert.Null(await done.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Collect_TheNodeFails_NoAnswerAtOnce()
    {
        var (collector, done) = Start(TimeSpan.FromMinutes(5));

        collector.Tell(new Status.Failure(new InvalidOperationException("list failed")));

        Assert.Null(await done.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Collect_NotEveryPartByTheDeadline_NoAnswer()
    {
        var parts = NodeStatsProtocol.Answer(Node, 1_000, Rows(1_000), maxBytes: 20_000);
        var (collector, done) = Start(TimeSpan.FromMilliseconds(300));

        collector.Tell(parts[0]);

        Assert.Null(await done.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Collect_AnOlderMembersSingleMessage_TakenAsTheWholeAnswer()
    {
        var (collector, done) = Start(TimeSpan.FromSeconds(10));

        collector.Tell(new NodeStatsProtocol.NodeConnections(Node, 4, Rows(4)));

        var answer = await done.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(answer);
        Assert.Equal(4, answer.Rows.Count);
    }
}
