using System.Net.Sockets;
using Akka.Actor;
using SslCluster.Actors.Modules;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Dispatch;

/// <summary>
/// A module's agent on this node: the parent of the <see cref="ConnectionActor"/>s this node accepted for the
/// module, the owner of their counters, and the reporter of those counters to the module's sharded entity.
/// </summary>
public sealed class ModuleAgentActor : ReceiveActor, IWithTimers
{
    public ITimerScheduler Timers { get; set; } = null!;

    public sealed record StartConnection(Socket Socket, IListenerRuntime Runtime, ModulePlan Module);

    public sealed record CountConnections
    {
        public static CountConnections Instance { get; } = new();
    }

    private sealed record Report
    {
        public static Report Instance { get; } = new();
    }

    public ModuleAgentActor(string module, string node, IActorRef moduleRegion, TimeSpan reportInterval, FlowRegistry flows)
    {
        Receive<StartConnection>(s =>
        {
            var counters = flows.For(module, s.Runtime.Plan.Vip, s.Runtime.Plan.Port);
            Context.ActorOf(ConnectionActor.Props(s.Socket, s.Runtime, s.Module, counters));
        });
        Receive<CountConnections>(_ => Sender.Tell(Context.GetChildren().Count()));

        // The rows include the backend-server rows that re-encrypted and initiated flows count under this module.
        Receive<Report>(_ => moduleRegion.Tell(new ModuleProtocol.ReportFlows(module, node, flows.RowsOf(module).ToList())));
        _reportInterval = reportInterval;
    }

    private readonly TimeSpan _reportInterval;

    protected override void PreStart() => Timers.StartPeriodicTimer("report", Report.Instance, TimeSpan.Zero, _reportInterval);

    public static Props Props(string module, string node, IActorRef moduleRegion, TimeSpan reportInterval, FlowRegistry flows) =>
        Akka.Actor.Props.Create(() => new ModuleAgentActor(module, node, moduleRegion, reportInterval, flows));
}

/// <summary>
/// One client connection: its lifecycle, the runtime (configuration revision) it started with, and abort on stop.
/// The bytes move in the data-path task it starts; the actor only learns that the task ended, then stops.
/// </summary>
public sealed class ConnectionActor : ReceiveActor
{
    private sealed record Finished;

    private readonly CancellationTokenSource _abort = new();

    public ConnectionActor(Socket socket, IListenerRuntime runtime, ModulePlan? module, FlowCounters counters)
    {
        Receive<Finished>(_ => Context.Stop(Self));
        var self = Self;
        var token = _abort.Token;
        _ = Task.Run(async () =>
        {
            // The dispatcher took a reference on the runtime for this connection; the task releases it, so a
            // runtime is never retired under a connection that is still moving bytes, even when the actor stops first.
            try
            {
                await runtime.RunAsync(socket, module, counters, token);
            }
            finally
            {
                socket.Dispose();
                runtime.Release();
                self.Tell(new Finished());
            }
        }, CancellationToken.None);
    }

    public static Props Props(Socket socket, IListenerRuntime runtime, ModulePlan? module, FlowCounters counters) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(socket, runtime, module, counters));

    // Stopping the actor (a drain deadline, a node shutdown) aborts its connection. The token source is left to the
    // GC rather than disposed here, because the data-path task may still be observing it.
    protected override void PostStop() => _abort.Cancel();
}
