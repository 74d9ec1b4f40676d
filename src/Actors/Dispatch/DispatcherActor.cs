using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Dispatch;

/// <summary>
/// The content rule of one VIP and port on this node: owns the listening socket, accepts, and picks the module of
/// each new connection (weighted round robin over the rule's active modules; weight 0 takes no new flows). The
/// accept loop runs on its own task and hands sockets to the actor; bytes never go through a mailbox.
/// </summary>
public sealed class DispatcherActor : ReceiveActor, IWithTimers
{
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>How long a client may wait in a full node's queue before it is closed.</summary>
    private static readonly TimeSpan QueueTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan QueueRetry = TimeSpan.FromMilliseconds(5);

    private sealed record RetryQueue
    {
        public static RetryQueue Instance { get; } = new();
    }

    private readonly Queue<(Socket Socket, string? SessionId, DateTime Since)> _waiting = new();
    /// <summary>Use this runtime, and these agents, for new connections from now on (a new configuration revision).</summary>
    public sealed record UseRuntime(IListenerRuntime Runtime, ListenerAgents Agents);

    /// <summary>
    /// The agents of a runtime's modules (by module name) and, for a clear-text rule, of the rule: admitted connections
    /// go to them directly, one mailbox less per connection than through the node runtime, which made them and keeps
    /// them for the node's life. A connection whose agent is not here goes through the node runtime.
    /// </summary>
    public sealed record ListenerAgents(IReadOnlyDictionary<string, IActorRef> Modules, IActorRef? Rule)
    {
        public static ListenerAgents None { get; } = new(new Dictionary<string, IActorRef>(), null);
    }

    public sealed record Bound(string Key);

    public sealed record BindFailed(string Key, string Reason);

    /// <summary>An accepted client; <paramref name="SessionId"/> is the ClientHello's session ID when the rule is sticky by it.</summary>
    private sealed record Accepted(Socket Socket, string? SessionId = null);

    private sealed record AcceptLoopEnded(string? Error);

    private sealed record RetryListen
    {
        public static RetryListen Instance { get; } = new();
    }

    private readonly string _key;
    private readonly IPEndPoint _endpoint;
    private readonly SslClusterSettings _settings;
    private readonly IActorRef _router;
    private readonly NodeLimits _limits;

    /// <summary>The data path's warm-up (<see cref="IDataPlane.Warm"/>): the socket listens at once, the loop accepts after it.</summary>
    private readonly Task _warm;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stop = new();
    private static readonly TimeSpan PeekTimeout = TimeSpan.FromSeconds(2);

    private IListenerRuntime _runtime;
    private ListenerAgents _agents;

    // Read by the accept loop, written by the actor when a revision changes the rule's stickiness.
    private bool _peekSessionIds;
    private WeightedRoundRobin<ModulePlan> _modules;
    private Socket? _listener;

    public DispatcherActor(string key, IPEndPoint endpoint, IListenerRuntime runtime, ListenerAgents agents, SslClusterSettings settings, IActorRef router,
        NodeLimits limits, Task warm)
    {
        _warm = warm;
        _agents = agents;
        _limits = limits;
        _key = key;
        _endpoint = endpoint;
        _settings = settings;
        _router = router;
        _runtime = runtime;
        _modules = Balancer(runtime);
        _peekSessionIds = PeeksSessionIds(runtime);

        Receive<Accepted>(a => Dispatch(a.Socket, a.SessionId));
        Receive<RetryQueue>(_ => OnRetryQueue());
        Receive<UseRuntime>(u =>
        {
            var old = _runtime;
            _runtime = u.Runtime;
            _agents = u.Agents;
            old.Retire();
            _modules = Balancer(u.Runtime);
            Volatile.Write(ref _peekSessionIds, PeeksSessionIds(u.Runtime));
        });
        Receive<NodeRuntimeActor.StopAccepting>(_ => CloseListener());
        Receive<RetryListen>(_ =>
        {
            if (_listener is null && !_stop.IsCancellationRequested) Listen(retryAfterWarmUp: false);
        });
        Receive<AcceptLoopEnded>(e =>
        {
            if (e.Error is not null && !_stop.IsCancellationRequested)
                _log.Error("Dispatcher {0}: accept loop failed: {1}", _key, e.Error);
        });
    }

    /// <param name="router">Where admitted connections go (the node runtime, which hands each to its module's or rule's agent).</param>
    public static Props Props(string key, IPEndPoint endpoint, IListenerRuntime runtime, ListenerAgents agents, SslClusterSettings settings, IActorRef router,
        NodeLimits limits, Task? warm = null) =>
        Akka.Actor.Props.Create(() => new DispatcherActor(key, endpoint, runtime, agents, settings, router, limits, warm ?? Task.CompletedTask))
            .WithDispatcher(InlineExecutor.Dispatcher);

    private static bool PeeksSessionIds(IListenerRuntime runtime) =>
        runtime.Sticky is not null && runtime.Plan.Sticky == Stickiness.SslSessionId;

    private static WeightedRoundRobin<ModulePlan> Balancer(IListenerRuntime runtime) =>
        new(runtime.Plan.Modules.Where(m => m.SslServers.Count > 0).Select(m => (m, m.Weight)));

    protected override void PreStart() => Listen(retryAfterWarmUp: true);

    /// <summary>
    /// Binds the listening socket and starts the accept loop; reports <see cref="Bound"/> or <see cref="BindFailed"/> to
    /// the parent. A port in use while the warm-up runs is tried once more when it has ended: its loopback sockets hold
    /// ephemeral ports meanwhile, and a VIP port in that range may be one of them for a moment.
    /// </summary>
    private void Listen(bool retryAfterWarmUp)
    {
        var socket = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(_endpoint);
            socket.Listen(_settings.Backlog);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            if (retryAfterWarmUp && e.SocketErrorCode == SocketError.AddressAlreadyInUse && !_warm.IsCompleted)
            {
                _log.Info("Dispatcher {0}: {1} is in use; trying again when the data path's warm-up has ended", _key, _endpoint);
                var retry = Self;
                _warm.ContinueWith(_ => retry.Tell(RetryListen.Instance), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return;
            }
            var reason = $"cannot listen on {_endpoint}: {e.Message}";
            _log.Error("Dispatcher {0}: {1}", _key, reason);
            Context.Parent.Tell(new BindFailed(_key, reason));
            return;
        }
        _listener = socket;
        Context.Parent.Tell(new Bound(_key));
        _log.Info("Dispatcher {0}: listening on {1} ({2}){3}", _key, _endpoint, _runtime.Plan.Kind,
            _warm.IsCompleted ? "" : "; accepting once the data path's warm-up has run");
        var self = Self;
        var listener = _listener;
        var token = _stop.Token;
        var warm = _warm;
        _ = Task.Run(async () =>
        {
            try
            {
                // Clients that come during the warm-up wait in the listen backlog (a second or two), never refused.
                if (!warm.IsCompleted) await warm.WaitAsync(token);
                while (!token.IsCancellationRequested)
                {
                    var socket = await listener.AcceptAsync(token);
                    if (Volatile.Read(ref _peekSessionIds))
                    {
                        // The session ID sits in the ClientHello: peek it off the accept loop, then dispatch.
                        _ = StickyTable.PeekSessionIdAsync(socket, PeekTimeout)
                            .ContinueWith(t =>
                            {
                                using (InlineExecutor.Inline()) self.Tell(new Accepted(socket, t.Result));
                            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        continue;
                    }
                    // The connection's way to its actor runs here, on the socket engine's thread (InlineExecutor).
                    using (InlineExecutor.Inline()) self.Tell(new Accepted(socket));
                }
                self.Tell(new AcceptLoopEnded(null));
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                self.Tell(new AcceptLoopEnded(token.IsCancellationRequested ? null : e.Message));
            }
        }, CancellationToken.None);
    }

    protected override void PostStop()
    {
        while (_waiting.TryDequeue(out var w))
        {
            _limits.Dequeued();
            w.Socket.Close(0);
        }
        CloseListener();
        _runtime.Retire();
        _stop.Dispose();
    }

    /// <summary>
    /// The module a sticky client used before, while that module still takes new flows (active, weight above 0);
    /// a module drained to weight 0 lets its clients go elsewhere, as the reference's procedures expect.
    /// </summary>
    private static ModulePlan? StickyModule(IListenerRuntime runtime, string? key)
    {
        if (key is null || runtime.Sticky?.Get(key) is not { } name) return null;
        return runtime.Plan.Modules.FirstOrDefault(m => m.Name == name && m.Weight > 0 && m.SslServers.Count > 0);
    }

    private static IPAddress? SourceOf(Socket socket) => (Protocol.Net.TlsProxyConnection.SafeRemoteEndPoint(socket) as IPEndPoint)?.Address;

    private void CloseListener()
    {
        if (!_stop.IsCancellationRequested) _stop.Cancel();
        _listener?.Dispose();
        _listener = null;
    }

    /// <summary>
    /// A new client: dispatched now, or, when the node is full and queues (<c>sslcluster.limits.when-full = queue</c>),
    /// kept in this listener's queue in arrival order until there is room (at most the listen backlog's length, for
    /// at most <see cref="QueueTimeout"/>).
    /// </summary>
    private void Dispatch(Socket socket, string? sessionId)
    {
        if (_waiting.Count > 0 || !TryDispatch(socket, sessionId))
        {
            if (_waiting.Count >= _settings.Backlog)
            {
                _limits.Refused(LimitRefusal.NodeConnections, 1);
                socket.Close(0);
                return;
            }
            _waiting.Enqueue((socket, sessionId, DateTime.UtcNow));
            _limits.Enqueued();
            Timers.StartSingleTimer("queue", RetryQueue.Instance, QueueRetry);
        }
    }

    /// <summary>Admits the clients waiting in the queue while there is room, in order; a client waiting too long is closed.</summary>
    private void OnRetryQueue()
    {
        while (_waiting.TryPeek(out var w))
        {
            if (DateTime.UtcNow - w.Since > QueueTimeout)
            {
                _waiting.Dequeue();
                _limits.Dequeued();
                _limits.Refused(LimitRefusal.NodeConnections, 1);
                w.Socket.Close(0);
                continue;
            }
            if (!TryDispatch(w.Socket, w.SessionId)) break;
            _waiting.Dequeue();
            _limits.Dequeued();
        }
        if (_waiting.Count > 0) Timers.StartSingleTimer("queue", RetryQueue.Instance, QueueRetry);
    }

    /// <summary>Dispatches a client; false when it must wait for room (queue mode), true when it was handled (taken or refused).</summary>
    private bool TryDispatch(Socket socket, string? sessionId)
    {
        // No socket options here: the connection (TlsProxyConnection, TcpRelay) sets TCP_NODELAY, one syscall each.
        var runtime = _runtime;

        // Taken here, in order with UseRuntime, so the runtime cannot be retired under a connection already accepted;
        // the connection releases it when it ends.
        if (!runtime.TryAcquire())
        {
            socket.Close(0);
            return true;
        }
        if (runtime.Plan.Kind == ListenerKind.TcpRelay)
        {
            var relayAdmission = Admit(socket, runtime, null);
            if (relayAdmission != Admission.Admitted) return relayAdmission == Admission.Refused;
            // Clear-text rules have no module: the rule's agent (which outlives this dispatcher) runs the relay.
            var relay = new FlowAgentActor.StartConnection(socket, runtime, null, _limits);
            if (_agents.Rule is { } ruleAgent) ruleAgent.Tell(relay);
            else _router.Tell(new NodeRuntimeActor.Route(NodeRuntimeActor.RuleAgent(runtime.Plan), relay));
            return true;
        }
        var stickyKey = runtime.Sticky is null ? null : runtime.Plan.Sticky switch
        {
            Stickiness.SslSessionId => sessionId,
            Stickiness.SourceIp => SourceOf(socket)?.ToString(),
            _ => null,
        };
        var module = StickyModule(runtime, stickyKey) ?? _modules.Next();
        // Source-IP stickiness learns here; session-ID stickiness learns the new session's ID after the handshake.
        if (module is not null && stickyKey is not null && runtime.Plan.Sticky == Stickiness.SourceIp)
            runtime.Sticky!.Set(stickyKey, module.Name);
        if (module is null)
        {
            // No module can take the flow (all suspended or weight 0): refuse at once rather than hold it.
            _log.Debug("Dispatcher {0}: no active module with weight above 0; connection refused", _key);
            runtime.Release();
            socket.Close(0);
            return true;
        }
        var admission = Admit(socket, runtime, module);
        if (admission != Admission.Admitted) return admission == Admission.Refused;
        var start = new FlowAgentActor.StartConnection(socket, runtime, module, _limits);
        if (_agents.Modules.TryGetValue(module.Name, out var agent)) agent.Tell(start);
        else _router.Tell(new NodeRuntimeActor.Route(NodeRuntimeActor.ModuleAgent(module.Name), start));
        return true;
    }

    private enum Admission
    {
        Admitted,
        Refused,
        Wait,
    }

    /// <summary>
    /// The node's limits admit the connection, or it is closed at once (counted by kind of refusal); connections
    /// already open are never touched by a refusal.
    /// </summary>
    private Admission Admit(Socket socket, IListenerRuntime runtime, ModulePlan? module)
    {
        var source = SourceOf(socket);
        var tls = runtime.Plan.Kind == ListenerKind.TlsTermination;
        var refused = _limits.TryAdmit(module?.Name, module?.MaxConnections ?? 0, tls, source, count: false, runtime.Plan.Context, runtime.Plan.ContextMaxConnections);
        if (refused == LimitRefusal.None) return Admission.Admitted;
        runtime.Release();
        if (_limits.Queues(refused)) return Admission.Wait;
        _limits.Refused(refused, 1);
        _log.Debug("Dispatcher {0}: connection from {1} refused ({2})", _key, source, refused);
        socket.Close(0);
        return Admission.Refused;
    }
}
