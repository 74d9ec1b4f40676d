using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>
/// A listener opened while the node's data-path warm-up still runs: bound at once (a client's connect succeeds and waits
/// in the backlog), accepting only once the warm-up has completed. Real loopback sockets; the router is a probe.
/// </summary>
public sealed class DispatcherWarmUpTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(SslClusterSettings.Reference))
{
    [Fact]
    public async Task Accept_WhileTheWarmUpRuns_ClientsWaitInTheBacklogAndAreDispatchedWhenItEnds()
    {
        var warm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var router = CreateTestProbe();
        var port = FreePort();
        var dispatcher = ChildActorOf(DispatcherActor.Props("rule", new IPEndPoint(IPAddress.Loopback, port), new RelayRuntime(port),
            DispatcherActor.ListenerAgents.None, SslClusterSettings.Create(Sys.Settings.Config), router, Limits(), warm.Task));
        ExpectMsg<DispatcherActor.Bound>(TimeSpan.FromSeconds(5));

        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5));
            }

            router.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
            warm.SetResult();

            var routed = Enumerable.Range(0, 3).Select(_ => router.ExpectMsg<NodeRuntimeActor.Route>(TimeSpan.FromSeconds(5))).ToList();
            Assert.All(routed, r => Assert.Null(r.Connection.Module));
            var accepted = routed.Select(r => ((IPEndPoint)r.Connection.Socket.RemoteEndPoint!).Port).Order().ToList();
            Assert.Equal(clients.Select(c => ((IPEndPoint)c.LocalEndPoint!).Port).Order().ToList(), accepted);
            foreach (var r in routed) r.Connection.Socket.Dispose();
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
            Sys.Stop(dispatcher);
        }
    }

    [Fact]
    public async Task Accept_WarmUpAlreadyOver_DispatchesTheFirstClientAtOnce()
    {
        var router = CreateTestProbe();
        var port = FreePort();
        var dispatcher = ChildActorOf(DispatcherActor.Props("rule", new IPEndPoint(IPAddress.Loopback, port), new RelayRuntime(port),
            DispatcherActor.ListenerAgents.None, SslClusterSettings.Create(Sys.Settings.Config), router, Limits()));
        ExpectMsg<DispatcherActor.Bound>(TimeSpan.FromSeconds(5));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5));

            var routed = router.ExpectMsg<NodeRuntimeActor.Route>(TimeSpan.FromSeconds(5));
            Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, ((IPEndPoint)routed.Connection.Socket.RemoteEndPoint!).Port);
            routed.Connection.Socket.Dispose();
        }
        finally
        {
            Sys.Stop(dispatcher);
        }
    }

    private static NodeLimits Limits() => new(new LimitSettings(), TimeProvider.System);

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>A clear-text rule's runtime that only counts references: the dispatcher routes its connections, nothing runs them.</summary>
    private sealed class RelayRuntime(int port) : IListenerRuntime
    {
        public ListenerPlan Plan { get; } = new("owner", "rule", "127.0.0.1", port, ListenerKind.TcpRelay, [], [new ServerTarget("web", "127.0.0.1", 9, 1)]);

        public long Revision => 1;

        public StickyTable? Sticky => null;

        public Task RunAsync(Socket client, ModulePlan? module, FlowCounters counters, ConnectionState state, CancellationToken cancellationToken) =>
            Task.CompletedTask;

        public bool TryAcquire() => true;

        public void Release()
        {
        }

        public void Retire()
        {
        }
    }
}
