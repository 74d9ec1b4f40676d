using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using SslCluster.Actors.Modules;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Dispatch;

/// <summary>
/// One per node: turns each published configuration revision into this node's listeners. For each VIP and port of
/// an active content rule it keeps one <see cref="DispatcherActor"/>, hands it the listener runtime of the new
/// revision, and stops dispatchers whose rule went away (their live connections finish on the old revision).
/// It is also the parent of the per-node module agents.
/// </summary>
public sealed class NodeRuntimeActor : ReceiveActor
{
    /// <summary>Its name under /user, where other nodes find it (<see cref="NodeControlProtocol"/>).</summary>
    public const string Name = "node-runtime";

    /// <summary>An admitted connection for the agent of <paramref name="Agent"/> (a module or clear-text rule); from a dispatcher.</summary>
    public sealed record Route(string Agent, FlowAgentActor.StartConnection Connection);

    /// <summary>A revision this node's copy of the store has taken in (from <see cref="ConfigStore.ConfigFollowerActor"/>).</summary>
    public sealed record ApplyRevision(ReplicaUpdate Update);

    /// <summary>Query: which modules this configuration has (name and slot), for <c>show ssl flows</c>.</summary>
    public sealed record GetModules
    {
        public static GetModules Instance { get; } = new();
    }

    public sealed record CurrentModules(long Revision, IReadOnlyList<(string Name, int? Slot)> Modules)
    {
        /// <summary>The clear-text content rules in force, as <c>owner/rule</c>.</summary>
        public IReadOnlyList<string> Rules { get; init; } = [];
    }

    /// <summary>Query: does every listener of the current revision accept (bound, and the data path warmed up)?</summary>
    public sealed record GetReadiness
    {
        public static GetReadiness Instance { get; } = new();
    }

    /// <summary>Problems are listeners that failed to bind; Pending are listeners still binding.</summary>
    public sealed record Readiness(long Revision, bool Ready, IReadOnlyList<string> Problems, IReadOnlyList<string> Pending);

    /// <summary>Stop accepting on every listener (the first step of a drain).</summary>
    public sealed record StopAccepting
    {
        public static StopAccepting Instance { get; } = new();
    }

    /// <summary>Answers with the number of connections still open on this node.</summary>
    public sealed record GetOpenConnections
    {
        public static GetOpenConnections Instance { get; } = new();
    }

    private readonly IDataPlane _dataPlane;
    private readonly SslClusterSettings _settings;
    private readonly IActorRef _moduleRegion;
    private readonly string _nodeName;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, (IActorRef Dispatcher, IListenerRuntime Runtime)> _listeners = [];
    private readonly Dictionary<string, IActorRef> _agents = [];
    private readonly Dictionary<string, string> _bindProblems = [];

    /// <summary>Listeners whose runtime could not be built for the current revision (cleared when a build succeeds or the listener goes).</summary>
    private readonly Dictionary<string, string> _buildProblems = [];
    private readonly HashSet<string> _binding = [];
    private RunningConfig _config = RunningConfig.Empty;
    private RuntimePlan _plan = new(-1, []);
    private ReplicaFileContents? _files;
    private long _revision = -1;
    private bool _accepting = true;
    private DateTimeOffset? _drainDeadline;

    private readonly IActorRef _health;

    public NodeRuntimeActor(IDataPlane dataPlane, SslClusterSettings settings, IActorRef moduleRegion, string nodeName, IActorRef health)
    {
        _health = health;
        _dataPlane = dataPlane;
        _settings = settings;
        _moduleRegion = moduleRegion;
        _nodeName = nodeName;

        Receive<ApplyRevision>(a => OnRevision(a.Update));
        // A context's maxconns is divided among the serving nodes: re-divided whenever one joins or leaves.
        Receive<Akka.Cluster.ClusterEvent.IMemberEvent>(e =>
        {
            // Built from the events themselves: the cluster's state object may lag behind the event being handled.
            if (e is Akka.Cluster.ClusterEvent.MemberUp) _up.Add(e.Member.Address);
            else if (e is Akka.Cluster.ClusterEvent.MemberLeft or Akka.Cluster.ClusterEvent.MemberExited or Akka.Cluster.ClusterEvent.MemberRemoved or Akka.Cluster.ClusterEvent.MemberDowned)
                _up.Remove(e.Member.Address);
            else return;
            UpdateMembership();
        });
        // The agents are this actor's children and its dictionary is touched on its own thread only.
        Receive<Route>(r => AgentFor(r.Agent).Tell(r.Connection));
        Receive<GetModules>(_ => Sender.Tell(new CurrentModules(_revision, _config.SslModules.Select(m => (m.Name, m.Slot)).ToList())
        {
            // The clear-text rules in force (the plan is every node's, whether or not this one could build each listener);
            // an SSLM client service's relay counts under its module.
            Rules = [.. _plan.Listeners.Where(p => p.Kind == ListenerKind.TcpRelay && p.RelayModule is null)
                .Select(p => p.Owner + "/" + p.Rule).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
        }));
        Receive<NodeControlProtocol.GetServing>(_ => Sender.Tell(new NodeControlProtocol.Serving(_revision, _accepting && ListenersAccept)));
        Receive<GetReadiness>(_ => Sender.Tell(new Readiness(
            _revision,
            ListenersAccept,
            _bindProblems.Concat(_buildProblems).Select(p => $"{p.Key}: {p.Value}").ToList(),
            _binding.ToList())));
        Receive<DispatcherActor.BindFailed>(f =>
        {
            _binding.Remove(f.Key);
            _bindProblems[f.Key] = f.Reason;
        });
        Receive<DispatcherActor.Bound>(b =>
        {
            _binding.Remove(b.Key);
            _bindProblems.Remove(b.Key);
        });
        Receive<StopAccepting>(_ =>
        {
            _accepting = false;
            foreach (var (d, _) in _listeners.Values) d.Tell(StopAccepting.Instance);
            Sender.Tell(Akka.Done.Instance);
        });
        Receive<GetOpenConnections>(_ =>
        {
            var sender = Sender;
            var asks = _agents.Values.Select(a => a.Ask<int>(FlowAgentActor.CountConnections.Instance, TimeSpan.FromSeconds(5))).ToList();
            Task.WhenAll(asks).PipeTo(sender, success: counts => counts.Sum(), failure: _ => -1);
        });
        Receive<NodeControlProtocol.Drain>(drain =>
        {
            var sender = Sender;
            var shutdown = CoordinatedShutdown.Get(Context.System);
            var already = shutdown.ShutdownReason is not null;
            var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
            var timeout = (int)_settings.DrainTimeout.TotalSeconds;
            // Counted before the drain starts: the figure the operator sees is what the node had to wait for.
            var asks = _agents.Values.Select(a => a.Ask<int>(FlowAgentActor.CountConnections.Instance, TimeSpan.FromSeconds(5))).ToList();
            Task.WhenAll(asks).ContinueWith(t =>
            {
                _ = shutdown.Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
                return new NodeControlProtocol.DrainStarted(self, already, t.IsCompletedSuccessfully ? t.Result.Sum() : -1, timeout);
            }, TaskScheduler.Default).PipeTo(sender);
        });
        Receive<FlowAgentActor.ListConnections>(_ =>
        {
            var sender = Sender;
            var asks = _agents.Values.Select(a => a.Ask<FlowAgentActor.ConnectionList>(FlowAgentActor.ListConnections.Instance, TimeSpan.FromSeconds(5))).ToList();
            Task.WhenAll(asks).PipeTo(sender, success: lists => new FlowAgentActor.ConnectionList([.. lists.SelectMany(l => l.Connections)]));
        });
        Receive<FlowAgentActor.DrainConnections>(d =>
        {
            _drainDeadline = d.Deadline;
            foreach (var agent in _agents.Values) agent.Tell(d);
            Sender.Tell(Akka.Done.Instance);
        });
    }

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, Akka.Cluster.ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(Akka.Cluster.ClusterEvent.IMemberEvent));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    /// <summary>The members Up, from the member events, in address order.</summary>
    private readonly SortedSet<Akka.Actor.Address> _up = new(Comparer<Akka.Actor.Address>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString())));

    /// <summary>This node's place among the members Up (their count when it is not Up), for the context limits' shares.</summary>
    private void UpdateMembership()
    {
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        var rank = _up.TakeWhile(a => !a.Equals(self)).Count();
        _dataPlane.Limits.SetMembership(rank, _up.Count);
    }

    public static Props Props(IDataPlane dataPlane, SslClusterSettings settings, IActorRef moduleRegion, string nodeName, IActorRef health) =>
        Akka.Actor.Props.Create(() => new NodeRuntimeActor(dataPlane, settings, moduleRegion, nodeName, health));

    private void OnRevision(ReplicaUpdate published)
    {
        if (published.Revision == _revision) return;
        var previousPlan = _plan;
        var previousFiles = _files;
        _revision = published.Revision;
        // The SSLM face's proxy services run as modules of their own: the node sees them lowered (SslmLowering).
        _config = Protocol.Config.SslmLowering.Lower(published.Config);
        _health.Tell(new Health.HealthMonitorActor.ApplyConfig(_config, published.Revision));
        var plan = RuntimePlan.Build(published.Revision, _config);
        var files = new ReplicaFileContents(published.Files);
        _plan = plan;
        _files = files;
        var wanted = plan.Listeners.ToDictionary(l => l.Key, StringComparer.Ordinal);
        var previous = previousPlan.Listeners.ToDictionary(l => l.Key, StringComparer.Ordinal);
        var kept = 0;
        foreach (var gone in _buildProblems.Keys.Where(k => !wanted.ContainsKey(k)).ToList()) _buildProblems.Remove(gone);

        foreach (var key in _listeners.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
        {
            var (dispatcher, runtime) = _listeners[key];
            _log.Info("NodeRuntime: listener {0} removed at revision {1}; its open connections finish on revision {2}", key, published.Revision, runtime.Revision);
            // The dispatcher retires its runtime when it stops; open connections finish on it.
            Context.Stop(dispatcher);
            _listeners.Remove(key);
            _bindProblems.Remove(key);
            _binding.Remove(key);
        }

        // Every active module reports, also one that only counts back-end rows (an ssl-init module in no content rule).
        foreach (var module in _config.SslModules.Where(m => m.State == AdminState.Active)) EnsureAgent(ModuleAgent(module.Name));

        foreach (var listener in plan.Listeners)
        {
            foreach (var module in listener.Modules) EnsureAgent(ModuleAgent(module.Name));
            if (listener.Kind == ListenerKind.TcpRelay) EnsureAgent(RuleAgent(listener), reports: listener.RelayModule is null);
            if (_listeners.ContainsKey(listener.Key) && previousFiles is not null && previous.TryGetValue(listener.Key, out var before)
                && !_buildProblems.ContainsKey(listener.Key)
                && plan.SameRuntime(listener, files.DigestOf, previousPlan, before, previousFiles.DigestOf)
                && _listeners[listener.Key].Runtime.ChainsCurrent(files))
            {
                // Nothing this listener uses changed: it keeps its runtime (balancer positions, caches, credentials).
                kept++;
                continue;
            }
            IListenerRuntime runtime;
            try
            {
                runtime = _dataPlane.Build(plan, listener, files);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or System.Security.Cryptography.CryptographicException or Protocol.Pki.PkiException)
            {
                // The store validated the configuration; a runtime that still cannot be built (a file unreadable
                // under this node's master key, say) is this node's problem: report it, keep the old one.
                _buildProblems[listener.Key] = e.Message;
                _log.Error("NodeRuntime: cannot build listener {0} for revision {1}: {2}", listener.Key, published.Revision, e.Message);
                continue;
            }
            _buildProblems.Remove(listener.Key);
            if (_listeners.TryGetValue(listener.Key, out var existing))
            {
                // The dispatcher retires the old runtime itself once it switched, so no connection it accepted
                // before the switch can find its runtime retired (a refused connection in a hitless change).
                existing.Dispatcher.Tell(new DispatcherActor.UseRuntime(runtime, AgentsOf(listener)));
                _listeners[listener.Key] = (existing.Dispatcher, runtime);
            }
            else
            {
                var endpoint = new IPEndPoint(_dataPlane.Addresses.Map(listener.Vip), listener.Port);
                var dispatcher = Context.ActorOf(DispatcherActor.Props(listener.Key, endpoint, runtime, AgentsOf(listener), _settings, Self, _dataPlane.Limits, _dataPlane.Warm), "dispatcher-" + Uri.EscapeDataString(listener.Key));
                _binding.Add(listener.Key);
                if (!_accepting) dispatcher.Tell(StopAccepting.Instance);
                _listeners[listener.Key] = (dispatcher, runtime);
            }
        }
        _log.Info("NodeRuntime: revision {0} in force: {1} listener(s), {2} of them unchanged ({3} section(s) and file(s) changed, {4} removed)",
            published.Revision, _listeners.Count, kept, published.ChangedKeys.Count, published.RemovedKeys.Count);
    }

    /// <summary>
    /// Every listener of the revision in force accepts: bound, none failed, and the data path's warm-up over (the
    /// dispatchers accept after it).
    /// </summary>
    private bool ListenersAccept =>
        _revision >= 0 && _bindProblems.Count == 0 && _buildProblems.Count == 0 && _binding.Count == 0 && _dataPlane.Warm.IsCompleted;

    /// <summary>The key of a module's agent.</summary>
    public static string ModuleAgent(string module) => "module:" + module;

    /// <summary>The key of a clear-text rule's agent.</summary>
    public static string RuleAgent(ListenerPlan listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        return "rule:" + listener.Owner + "/" + listener.Rule;
    }

    private IActorRef AgentFor(string key) => _agents.TryGetValue(key, out var a) ? a : EnsureAgent(key);

    /// <summary>The agents a listener's dispatcher hands its connections to (made here if they are not yet).</summary>
    private DispatcherActor.ListenerAgents AgentsOf(ListenerPlan listener) => new(
        listener.Modules.Select(m => m.Name).Distinct(StringComparer.Ordinal).ToDictionary(n => n, n => AgentFor(ModuleAgent(n)), StringComparer.Ordinal),
        listener.Kind == ListenerKind.TcpRelay ? AgentFor(RuleAgent(listener)) : null);

    /// <summary>
    /// The agent of a module or clear-text rule, made on first use and kept for the node's life: its connections
    /// (and their counters) outlive any revision that removes the module or the rule.
    /// </summary>
    /// <param name="reports">For a rule: whether its counters are its own to report (not an SSLM client service's).</param>
    private IActorRef EnsureAgent(string key, bool reports = true)
    {
        if (_agents.TryGetValue(key, out var agent)) return agent;
        var colon = key.IndexOf(':', StringComparison.Ordinal);
        var name = key[(colon + 1)..];
        var props = key.StartsWith("module:", StringComparison.Ordinal)
            ? FlowAgentActor.ForModule(name, _nodeName, _moduleRegion, _settings.FlowReportInterval, _dataPlane.Flows, TimeProvider.System)
            : FlowAgentActor.ForRule(name, _nodeName, reports ? _moduleRegion : null, _settings.FlowReportInterval, _dataPlane.Flows, TimeProvider.System);
        agent = Context.ActorOf(props, Uri.EscapeDataString(key.Replace(':', '-')));
        _agents[key] = agent;
        if (_drainDeadline is { } deadline) agent.Tell(new FlowAgentActor.DrainConnections(deadline));
        return agent;
    }
}
