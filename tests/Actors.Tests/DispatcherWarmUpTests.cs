using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Runtime;
using SslCluster.TestSupport;
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
        var port = Ports.Free();
        var dispatcher = Dispatcher(port, router, warm.Task);
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
    public async Task Listen_PortInUseWhileTheWarmUpRuns_TriedAgainWhenItEndsAndThenServes()
    {
        var warm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var router = CreateTestProbe();
        var port = Ports.Free();
        // Another socket holds the port for a moment, as one of the warm-up's own may.
        var holder = new TcpListener(IPAddress.Loopback, port);
        holder.Start();
        var dispatcher = Dispatcher(port, router, warm.Task);
        try
        {
            ExpectNoMsg(TimeSpan.FromMilliseconds(500));
            holder.Stop();
            warm.SetResult();

            ExpectMsg<DispatcherActor.Bound>(TimeSpan.FromSeconds(5));
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5));
            router.ExpectMsg<NodeRuntimeActor.Route>(TimeSpan.FromSeconds(5)).Connection.Socket.Dispose();
        }
        finally
        {
            holder.Stop();
            Sys.Stop(dispatcher);
        }
    }

    [Fact]
    public void Listen_PortInUseAfterTheWarmUp_FailsAtOnceNamingThePort()
    {
        var port = Ports.Free();
        var holder = new TcpListener(IPAddress.Loopback, port);
        holder.Start();
        try
        {
            Dispatcher(port, CreateTestProbe());

            var failed = ExpectMsg<DispatcherActor.BindFailed>(TimeSpan.FromSeconds(5));
            Assert.StartsWith($"cannot listen on 127.0.0.1:{port}: ", failed.Reason, StringComparison.Ordinal);
        }
        finally
        {
            holder.Stop();
        }
    }

    [Fact]
    public async Task StopAccepting_WhileTheWarmUpRuns_ClientsInTheBacklogAreClosedAndNoneIsDispatched()
    {
        var warm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var router = CreateTestProbe();
        var port = Ports.Free();
        var dispatcher = Dispatcher(port, router, warm.Task);
        ExpectMsg<DispatcherActor.Bound>(TimeSpan.FromSeconds(5));
        using var waiting = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await waiting.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5));
        try
        {
            dispatcher.Tell(NodeRuntimeActor.StopAccepting.Instance);

            // The listener closes with the client still in its backlog: the client sees its connection end, never served.
            var ended = await Task.Run(async () =>
            {
                try
                {
                    return await waiting.ReceiveAsync(new byte[1], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(5)) == 0;
                }
                catch (SocketException)
                {
                    return true;
                }
            });
            Assert.True(ended);
            using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await Assert.ThrowsAsync<SocketException>(() => late.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5)));
            warm.SetResult();
            router.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        }
        finally
        {
            Sys.Stop(dispatcher);
        }
    }

    [Fact]
    public async Task Accept_WarmUpAlreadyOver_DispatchesTheFirstClientAtOnce()
    {
        var router = CreateTestProbe();
        var port = Ports.Free();
        var dispatcher = Dispatcher(port, router);
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

    /// <summary>A dispatcher for a clear-text rule on loopback <paramref name="port"/>, a child of the test actor (which gets Bound or BindFailed).</summary>
    private IActorRef Dispatcher(int port, IActorRef router, Task? warm = null) =>
        ChildActorOf(DispatcherActor.Props("rule", new IPEndPoint(IPAddress.Loopback, port), new RelayRuntime(port),
            DispatcherActor.ListenerAgents.None, SslClusterSettings.Create(Sys.Settings.Config), router, new NodeLimits(new LimitSettings(), TimeProvider.System), warm));

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
