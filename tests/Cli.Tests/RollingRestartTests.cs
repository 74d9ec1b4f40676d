using Microsoft.Extensions.Time.Testing;
using SslCluster.Cli;
using SslCluster.Protocol.Admin;
using Xunit;

namespace SslCluster.Cli.Tests;

/// <summary>
/// The order and the stopping rules of <c>sslctl cluster rolling-restart</c>, against a simulated cluster whose
/// supervisor brings a drained member back after a few polls (the integration test runs it against real nodes).
/// </summary>
public sealed class RollingRestartTests
{
    private const string A = "akka.tcp://sslcluster@127.0.0.1:4100";
    private const string B = "akka.tcp://sslcluster@127.0.0.2:4100";
    private const string C = "akka.tcp://sslcluster@127.0.0.3:4100";

    /// <summary>Three members up at revision 7: A (this node, the oldest), C, then B (the youngest).</summary>
    private sealed class Simulated(FakeTimeProvider time, bool comesBack = true)
    {
        private readonly Dictionary<string, ClusterMemberInfo> _members = new()
        {
            [A] = Member(A, 1, 0, self: true),
            [B] = Member(B, 2, 2),
            [C] = Member(C, 3, 1),
        };

        private readonly Dictionary<string, int> _awayPolls = [];

        public List<string> Drained { get; } = [];

        private static ClusterMemberInfo Member(string address, long uid, int age, bool self = false) =>
            new(address, "Up", [], self) { Uid = uid, Age = age, Revision = 7, Serving = true };

        public Task<ClusterResponse> GetAsync()
        {
            // Every poll is a second of the fake clock; a drained member is gone for two polls, then back as a new
            // incarnation (when its supervisor brings it back).
            time.Advance(TimeSpan.FromSeconds(1));
            foreach (var address in _awayPolls.Keys.ToList())
            {
                if (++_awayPolls[address] < 3 || !comesBack) continue;
                _awayPolls.Remove(address);
                _members[address] = Member(address, 100 + Drained.Count, 3, self: address == A);
            }
            if (_awayPolls.ContainsKey(A)) throw new HttpRequestException("connection refused");
            return Task.FromResult(new ClusterResponse([.. _members.Values], A));
        }

        public Task<DrainResponse> DrainAsync(ClusterMemberRequest request)
        {
            Drained.Add(request.Node);
            _members.Remove(request.Node);
            _awayPolls[request.Node] = 0;
            return Task.FromResult(new DrainResponse(request.Node, false, 2, 30));
        }
    }

    private static RollingRestart Restart(FakeTimeProvider time, StringWriter output) =>
        new(output, time) { Poll = TimeSpan.Zero, PerMember = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task RunAsync_HealthyCluster_DrainsYoungestFirstAndThisNodeLastEachBackBeforeTheNext()
    {
        var time = new FakeTimeProvider();
        var cluster = new Simulated(time);
        using var output = new StringWriter();

        var exit = await Restart(time, output).RunAsync(cluster.GetAsync, cluster.DrainAsync);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal([B, C, A], cluster.Drained);
        Assert.Equal(3, output.ToString().Split('\n').Count(l => l.Contains(": back, up with revision 7", StringComparison.Ordinal)));
        Assert.Contains("rolling restart done: 3 member(s)", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MemberNeverComesBack_StopsNamingItAndWhatWasNotRestarted()
    {
        var time = new FakeTimeProvider();
        var cluster = new Simulated(time, comesBack: false);
        using var output = new StringWriter();

        var e = await Assert.ThrowsAsync<NodeErrorException>(() => Restart(time, output).RunAsync(cluster.GetAsync, cluster.DrainAsync));

        Assert.Contains($"{B} left but did not come back within 60 s", e.Message, StringComparison.Ordinal);
        Assert.Contains("2 member(s) were not restarted", e.Message, StringComparison.Ordinal);
        Assert.Equal([B], cluster.Drained);
    }

    [Fact]
    public async Task RunAsync_MemberNotUp_DrainsNothing()
    {
        var time = new FakeTimeProvider();
        using var output = new StringWriter();
        var drained = new List<string>();
        Task<ClusterResponse> Get() => Task.FromResult(new ClusterResponse(
            [new ClusterMemberInfo(A, "Up", [], true), new ClusterMemberInfo(B, "Leaving", [], false)], A));

        var e = await Assert.ThrowsAsync<NodeErrorException>(() => Restart(time, output).RunAsync(Get, r =>
        {
            drained.Add(r.Node);
            return Task.FromResult(new DrainResponse(r.Node, false, 0, 30));
        }));

        Assert.Contains($"{B} Leaving", e.Message, StringComparison.Ordinal);
        Assert.Empty(drained);
    }
}
