using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using SslCluster.Actors.Modules;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Dispatch;

/// <summary>
/// The agent on this node of a module (TLS termination) or of a clear-text content rule: the parent of the
/// <see cref="ConnectionActor"/>s this node accepted for it, the owner of their counters, and for a module the
/// reporter of those counters to the module's sharded entity. Agents outlive the revisions and rules that created
/// their connections, so a removed rule or a new revision never stops a connection, and a drain waits for all of them.
/// </summary>
public sealed class FlowAgentActor : ReceiveActor, IWithTimers
{
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>An accepted client for this agent; <paramref name="Module"/> is null for a clear-text relay.</summary>
    public sealed record StartConnection(Socket Socket, IListenerRuntime Runtime, ModulePlan? Module, NodeLimits? Limits = null);

    public sealed record CountConnections
    {
        public static CountConnections Instance { get; } = new();
    }

    /// <summary>Every open connection's <see cref="ConnectionActor.Info"/>.</summary>
    public sealed record ListConnections
    {
        public static ListConnections Instance { get; } = new();
    }

    public sealed record ConnectionList(IReadOnlyList<ConnectionActor.Info> Connections);

    /// <summary>Close every open connection at <paramref name="Deadline"/> if it has not ended by then (a drain).</summary>
    public sealed record DrainConnections(DateTimeOffset Deadline);

    private sealed record Report
    {
        public static Report Instance { get; } = new();
    }

    private readonly TimeSpan _reportInterval;
    private readonly bool _reports;
    private DateTimeOffset? _drainDeadline;

    /// <param name="name">The module's name, or the rule's <c>owner/rule</c>.</param>
    /// <param name="moduleRegion">
    /// Where the counters are reported: a module's to its entity, a clear-text rule's to an entity of the same kind under
    /// <see cref="FlowRegistry.RuleKey"/>, so that both are summed over the cluster and kept when a node leaves or dies;
    /// null: not reported (an SSLM client service's rule, whose relays count under its module).
    /// </param>
    public FlowAgentActor(string name, bool isModule, string node, IActorRef? moduleRegion, TimeSpan reportInterval, FlowRegistry flows, TimeProvider time)
    {
        _reportInterval = reportInterval;
        _reports = moduleRegion is not null;
        Receive<StartConnection>(s =>
        {
            var plan = s.Runtime.Plan;
            // An SSLM client service's relay counts under its module, so the module's statistics hold its connections.
            var counters = isModule ? flows.For(name, plan.Vip, plan.Port)
                : plan.RelayModule is { } relayModule ? flows.For(relayModule, plan.Vip, plan.Port)
                : flows.ForRule(name, plan.Vip, plan.Port);
            var state = new ConnectionState(s.Runtime.Revision, name, Protocol.Net.TlsProxyConnection.SafeRemoteEndPoint(s.Socket), time.GetUtcNow(), plan);
            var connection = Context.ActorOf(ConnectionActor.Props(s.Socket, s.Runtime, s.Module, counters, state, time, s.Limits));
            if (_drainDeadline is { } deadline) connection.Tell(new DrainConnections(deadline));
        });
        Receive<CountConnections>(_ => Sender.Tell(Context.GetChildren().Count()));
        Receive<ListConnections>(_ =>
        {
            var children = Context.GetChildren().ToList();
            var sender = Sender;
            Task.WhenAll(children.Select(c => c.Ask<ConnectionActor.Info>(ConnectionActor.GetInfo.Instance, TimeSpan.FromSeconds(3))
                    .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default)))
                .PipeTo(sender, success: infos => new ConnectionList([.. infos.OfType<ConnectionActor.Info>()]));
        });
        Receive<DrainConnections>(d =>
        {
            _drainDeadline = d.Deadline;
            foreach (var c in Context.GetChildren()) c.Tell(d);
        });

        // The rows include the backend-server rows that re-encrypted and initiated flows count under this module.
        // The incarnation tells this node's reports from those of an earlier run at the same address (0 outside a cluster).
        var uid = ((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.IClusterActorRefProvider ? Akka.Cluster.Cluster.Get(Context.System).SelfUniqueAddress.Uid : 0;
        // Every report, an empty one too, as a module's: it is what lets the entity give a dead member's totals to a live node.
        var key = isModule ? name : FlowRegistry.RuleKey(name);
        Receive<Report>(_ =>
        {
            var (rows, retired) = flows.ReportOf(key);
            moduleRegion!.Tell(new ModuleProtocol.ReportFlows(key, node, [.. rows], uid, retired.Count > 0 ? retired : null));
        });
    }

    protected override void PreStart()
    {
        if (_reports) Timers.StartPeriodicTimer("report", Report.Instance, TimeSpan.Zero, _reportInterval);
    }

    /// <summary>
    /// A connection actor that fails is stopped, never restarted: a restart would make it again from its Props, whose
    /// constructor starts the data path, a second one on the same socket. Stopping it aborts its connection (PostStop).
    /// </summary>
    internal static readonly SupervisorStrategy ConnectionSupervision = new OneForOneStrategy(_ => Directive.Stop);

    protected override SupervisorStrategy SupervisorStrategy() => ConnectionSupervision;

    public static Props ForModule(string module, string node, IActorRef moduleRegion, TimeSpan reportInterval, FlowRegistry flows, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new FlowAgentActor(module, true, node, moduleRegion, reportInterval, flows, time)).WithDispatcher(InlineExecutor.Dispatcher);

    /// <param name="moduleRegion">Where the rule's counters are reported (null: nowhere, outside a cluster's node).</param>
    public static Props ForRule(string rule, string node, IActorRef? moduleRegion, TimeSpan reportInterval, FlowRegistry flows, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new FlowAgentActor(rule, false, node, moduleRegion, reportInterval, flows, time)).WithDispatcher(InlineExecutor.Dispatcher);
}

/// <summary>
/// One client connection: it owns the connection's state (phase, revision, module or rule, client, outcome, written
/// lock-free by the data path), answers what it is doing, and closes it when told (a kill, or a drain's deadline).
/// The bytes move in the data-path task it starts and never pass through its mailbox; the actor learns that the task
/// ended, then stops. Stopping the actor (its agent stopping, the node shutting down) aborts the connection.
/// </summary>
public sealed class ConnectionActor : UntypedActor
{
    public sealed record GetInfo
    {
        public static GetInfo Instance { get; } = new();
    }

    /// <summary>What a connection is doing now.</summary>
    public sealed record Info(string Owner, long Revision, string? Client, ConnectionPhase Phase, TimeSpan Age)
    {
        public string? Vip { get; init; }

        public string? Backend { get; init; }

        public long BytesFromClient { get; init; }

        public long BytesToClient { get; init; }
    }

    /// <summary>Close the connection now.</summary>
    public sealed record Kill
    {
        public static Kill Instance { get; } = new();
    }

    private sealed record Finished
    {
        public static Finished Instance { get; } = new();
    }

    /// <summary>More than one core for this process (its affinity and CPU quota count): data paths start on the pool.</summary>
    private static readonly bool SpreadStarts = Environment.ProcessorCount > 1;

    // The actor's arguments, held by its Props (which the actor cell keeps for the actor's life anyway).
    private readonly ConnectionProps _args;
    // The drain's deadline, when one was set (a later drain replaces it); the system's scheduler rather than the actor's
    // timers, so that a connection actor keeps no timer table.
    private ICancelable? _drain;

    private ConnectionActor(ConnectionProps args)
    {
        _args = args;

        // This constructor runs on the listener's socket-engine thread (InlineExecutor). With more than one core the
        // data path is queued: the client's first flight, a signature on a full handshake, would otherwise hold that
        // listener's accepts, and from the pool it goes on, at its first wait, on its own socket's engine thread (one
        // per core). With one core there is nowhere to spread it: it starts here, without a thread-pool hop.
        var self = Self;
        if (SpreadStarts) ThreadPool.UnsafeQueueUserWorkItem(static s => _ = RunAsync(s.Args, s.Self), (Args: args, Self: self), preferLocal: false);
        else _ = RunAsync(args, self);
    }

    private ConnectionState State => _args.State;

    // Its arguments in one object: the task's pending step, kept for the connection's life, holds that and the actor.
    private static async Task RunAsync(ConnectionProps args, IActorRef self)
    {
        // The dispatcher took a reference on the runtime for this connection; the task releases it, so a runtime is
        // never retired under a connection that is still moving bytes, even when the actor stops first.
        try
        {
            // Aborted through its state (ConnectionState.Attach), not a token: no cancellation source per connection.
            await args.Runtime.RunAsync(args.Socket, args.Module, args.Counters, args.State, CancellationToken.None);
        }
        finally
        {
            args.Socket.Dispose();
            args.Runtime.Release();
            args.Limits?.Ended(args.Module?.Name, args.Runtime.Plan.Context);
            // The actor stops, and its agent learns it, on this thread rather than as two thread-pool items.
            using (InlineExecutor.Inline()) self.Tell(Finished.Instance, ActorRefs.NoSender);
        }
    }

    // An untyped actor: one is made per client connection, and a ReceiveActor builds its handler tables per instance.
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Finished:
            case Kill:
                Context.Stop(Self);
                break;
            case GetInfo:
                var state = State;
                Sender.Tell(new Info(state.Owner, state.Revision, state.Client?.ToString(), state.Phase, _args.Time.GetUtcNow() - state.Started)
                {
                    Vip = state.Vip,
                    Backend = state.Backend?.ToString(),
                    BytesFromClient = state.BytesFromClient,
                    BytesToClient = state.BytesToClient,
                });
                break;
            case FlowAgentActor.DrainConnections d:
                // An HTTP keep-alive client is closed between two requests, or after the answer to its next one
                // (Connection: close), so that it goes to another node losing nothing; the deadline closes the rest.
                State.GoAway();
                var left = d.Deadline - _args.Time.GetUtcNow();
                if (left <= TimeSpan.Zero) Context.Stop(Self);
                else
                {
                    _drain?.Cancel();
                    _drain = Context.System.Scheduler.ScheduleTellOnceCancelable(left, Self, Kill.Instance, Self);
                }
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    public static Props Props(Socket socket, IListenerRuntime runtime, ModulePlan? module, FlowCounters counters, ConnectionState state, TimeProvider time,
        NodeLimits? limits = null) =>
        new ConnectionProps(socket, runtime, module, counters, state, time, limits);

    /// <summary>
    /// A connection actor's Props, which make the actor from the arguments they hold; the dispatcher and the mailbox come
    /// from one template every connection shares. One is made per client connection and kept with its actor: the expression
    /// form of <c>Props.Create</c> would take the expression apart (and reflect on the constructor) every time, and
    /// <c>CreateBy(...).WithDispatcher(...).WithMailbox(...)</c> would make three Props, two deployments and a producer,
    /// of which a Props, a deployment and the producer stay. The actor and its data-path task read their arguments here.
    /// </summary>
    private sealed class ConnectionProps : Akka.Actor.Props
    {
        private static readonly Akka.Actor.Props Template = Akka.Actor.Props.CreateBy(new TemplateProducer())
            .WithDispatcher(InlineExecutor.Dispatcher).WithMailbox(CompactMailbox.Path);

        public ConnectionProps(Socket socket, IListenerRuntime runtime, ModulePlan? module, FlowCounters counters, ConnectionState state,
            TimeProvider time, NodeLimits? limits)
            : base(Template)
        {
            Socket = socket;
            Runtime = runtime;
            Module = module;
            Counters = counters;
            State = state;
            Time = time;
            Limits = limits;
        }

        private ConnectionProps(ConnectionProps copy)
            : base(copy)
        {
            (Socket, Runtime, Module, Counters, State, Time, Limits) = (copy.Socket, copy.Runtime, copy.Module, copy.Counters, copy.State, copy.Time, copy.Limits);
        }

        public Socket Socket { get; }

        public IListenerRuntime Runtime { get; }

        public ModulePlan? Module { get; }

        public FlowCounters Counters { get; }

        public ConnectionState State { get; }

        public TimeProvider Time { get; }

        public NodeLimits? Limits { get; }

#pragma warning disable AK1000 // This is the Props: the actor cell calls NewActor to make the actor, as it would a producer's Produce.
        public override ActorBase NewActor() => new ConnectionActor(this);
#pragma warning restore AK1000

        // What Props.WithX copies stays a connection's Props, with its arguments.
        protected override Akka.Actor.Props Copy() => new ConnectionProps(this);
    }

    /// <summary>Names the actor type for the template; <see cref="ConnectionProps.NewActor"/> makes the actors.</summary>
    private sealed class TemplateProducer : IIndirectActorProducer
    {
        public Type ActorType => typeof(ConnectionActor);

        public ActorBase Produce() => throw new InvalidOperationException("A connection actor is made by its ConnectionProps.");

        public void Release(ActorBase actor)
        {
        }
    }

    protected override void PostStop()
    {
        _drain?.Cancel();
        State.Abort();
    }
}
