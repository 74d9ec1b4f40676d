using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Event;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Health;
using SslCluster.Protocol.Health;
using SslCluster.Actors.Modules;
using SslCluster.Actors.Sessions;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors;

/// <summary>
/// The node's TLS session cache and ticket keys, which its data plane's engines use, and the master key that seals
/// what the cluster copies of them between nodes.
/// </summary>
public sealed record TlsSessionCluster(ReplicatedTlsSessionStore Store, SessionTicketKeys? Tickets, MasterKey MasterKey);

/// <summary>The actors a node runs, and the references the admin endpoint talks to.</summary>
public sealed record SslClusterHandles(
    ActorSystem System,
    SslClusterSettings Settings,
    IActorRef ConfigStore,
    IActorRef ModuleRegion,
    IActorRef NodeRuntime,
    IActorRef Health,
    IActorRef BackendServerRegion,
    TlsSessionCluster? Sessions,
    IActorRef ConfigFollower,
    FormationMethod Formation = FormationMethod.Seeds)
{
    /// <summary>Ends when the node's journal plugin has started (true) or failed to (false): see <see cref="ConfigStore.JournalWarmUpActor"/>.</summary>
    public Task<bool> JournalReady { get; init; } = Task.FromResult(true);
}

/// <summary>
/// Starts a node's actor system: cluster membership, the configuration store singleton, the sharded module and
/// proxy-list entities, and this node's runtime (listeners, module agents, connections).
/// </summary>
public static class SslClusterHost
{
    /// <param name="health">The table the data path's balancers read; the node's keepalives write it.</param>
    /// <param name="keepalives">Address map, TLS connector and scripts folder of the keepalives.</param>
    /// <summary>The coordinated-shutdown phase that waits for the open connections (see reference.conf).</summary>
    public const string PhaseDrainConnections = "drain-connections";

    /// <summary>The phase after it: the node's counters go to another member before it leaves (see reference.conf).</summary>
    public const string PhaseHandOverCounters = "hand-over-counters";

    /// <summary>
    /// A drain (SIGTERM, Ctrl-C or sslctl node drain) in coordinated shutdown's order: service-unbind stops every
    /// listener at once; then sharding hands this node's shards to the other nodes (cluster-sharding-shutdown-region),
    /// so that the modules answer from elsewhere during the wait; then drain-connections waits for the open
    /// connections, up to the drain timeout; only then does the node leave the cluster. Connections still open at
    /// the deadline are closed when the actor system stops.
    /// </summary>
    private static void AddDrain(ActorSystem system, IActorRef runtime, TimeSpan drainTimeout, FlowRegistry flows)
    {
        var shutdown = CoordinatedShutdown.Get(system);
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "stop-accepting", async () =>
        {
            await runtime.Ask<Akka.Done>(NodeRuntimeActor.StopAccepting.Instance, TimeSpan.FromSeconds(5));
            return Akka.Done.Instance;
        });
        shutdown.AddTask(PhaseDrainConnections, "wait-for-connections", async () =>
        {
            // Every connection of the node, TLS or clear text, is told the deadline and closes itself there if it has
            // not ended by then; until then the phase waits for them to end on their own.
            var time = TimeProvider.System;
            var deadline = time.GetUtcNow() + drainTimeout;
            await runtime.Ask<Akka.Done>(new FlowAgentActor.DrainConnections(deadline), TimeSpan.FromSeconds(5));
            while (time.GetUtcNow() < deadline + TimeSpan.FromSeconds(1))
            {
                // -1: an agent did not answer in time; the count is unknown, so keep waiting (the deadline still holds).
                var open = await runtime.Ask<int>(NodeRuntimeActor.GetOpenConnections.Instance, TimeSpan.FromSeconds(5));
                if (open == 0) break;
                await Task.Delay(200);
            }
            return Akka.Done.Instance;
        });
        shutdown.AddTask(PhaseHandOverCounters, "hand-over-counters", async () =>
        {
            // Within the phase's 10 s (reference.conf), with room for the log line.
            await Dispatch.NodeStatsActor.HandOverAsync(system, flows, TimeSpan.FromSeconds(8));
            return Akka.Done.Instance;
        });
    }

    /// <summary>
    /// The ticket-key owner and this node's session replicator. Shared across the cluster (the owner a singleton, every
    /// session copied to every node) over remoting TLS, or in clear when the settings allow it; otherwise node-local.
    /// </summary>
    internal static void StartSessionCache(ActorSystem system, SslClusterSettings settings, TlsSessionCluster sessions)
    {
        var seal = new ClusterSeal(sessions.MasterKey, "tls ticket keys v1");
        var owner = TicketKeyOwnerActor.Props(seal, settings.TicketKeyRotation, TimeProvider.System, localOnly: !settings.ShareSessions,
            heldHere: sessions.Tickets);
        IActorRef ownerRef;
        if (settings.ShareSessions)
        {
            system.ActorOf(ClusterSingletonManager.Props(owner, PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system)), "ticket-keys");
            ownerRef = system.ActorOf(ClusterSingletonProxy.Props("/user/ticket-keys", ClusterSingletonProxySettings.Create(system)), "ticket-keys-proxy");
        }
        else
        {
            system.Log.Info("tls sessions: remoting runs without TLS, so this node keeps its TLS sessions and ticket keys to itself " +
                "(sslcluster.tls.share-sessions-without-remoting-tls = on would share them sealed, but not forward secret)");
            ownerRef = system.ActorOf(owner, "ticket-keys");
        }
        system.ActorOf(SessionReplicatorActor.Props(sessions.Store, sessions.Tickets, seal, ownerRef, settings.SessionCacheSize, settings.ShareSessions),
            SessionReplicatorActor.Name);
    }

    public static SslClusterHandles Start(Config config, IDataPlane dataPlane, KeyCertificateCheck check, TimeProvider time,
        ServiceHealthTable? health = null, KeepaliveEnvironment? keepalives = null, TlsSessionCluster? sessions = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var full = config.WithFallback(SslClusterSettings.Reference);
        var settings = SslClusterSettings.Create(full);
        var (formation, formationConfig) = ClusterFormation.Resolve(full);
        // The drain phase lasts as long as the drain may, and a little more, whatever drain-timeout is set to.
        var drainPhase = (int)Math.Ceiling((settings.DrainTimeout + TimeSpan.FromSeconds(5)).TotalSeconds);
        full = ConfigurationFactory.ParseString($"akka.coordinated-shutdown.phases.{PhaseDrainConnections}.timeout = {drainPhase}s")
            .WithFallback(formationConfig).WithFallback(full);
        var tls = RemotingTls.Create(settings);
        var system = tls is { } t
            ? ActorSystem.Create("sslcluster", BootstrapSetup.Create().WithConfig(t.Config.WithFallback(full)).And(t.Setup))
            : ActorSystem.Create("sslcluster", full);
        var cluster = Cluster.Get(system);
        // Under cluster bootstrap the node joins once its contact points agree (the node's ManagementEndpoint starts it).
        if (formation == FormationMethod.Seeds && full.GetStringList("akka.cluster.seed-nodes").Count == 0)
        {
            // A single node (or the first of a configured cluster without seeds) forms a cluster of itself.
            cluster.Join(cluster.SelfAddress);
        }

        var journalReady = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(JournalWarmUpActor.Props(journalReady), "journal-warm-up");
        // A store that stops after a refused write (another writer won that sequence number) starts again and recovers.
        var storeProps = Akka.Pattern.BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(ConfigStoreActor.Props(check, time), "store",
            TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), 0.2, -1));
        system.ActorOf(ClusterSingletonManager.Props(
            storeProps,
            PoisonPill.Instance,
            ClusterSingletonManagerSettings.Create(system)), "config-store");
        var store = system.ActorOf(ClusterSingletonProxy.Props(
            "/user/config-store",
            ClusterSingletonProxySettings.Create(system)), "config-store-proxy");

        var sharding = ClusterSharding.Get(system);
        var shardingSettings = ClusterShardingSettings.Create(system);
        var extractor = new ModuleMessageExtractor(settings.NumberOfShards);
        var modules = sharding.Start(SslModuleEntity.TypeName, name => SslModuleEntity.Props(name, time), shardingSettings, extractor);

        var nodeName = cluster.SelfAddress.ToString();
        var backendServers = sharding.Start(BackendServerEntity.TypeName, id => BackendServerEntity.Props(id, time), shardingSettings, extractor);
        var monitor = system.ActorOf(HealthMonitorActor.Props(health ?? new ServiceHealthTable(),
            keepalives ?? new KeepaliveEnvironment { AddressMap = dataPlane.Addresses }, time, backendServers), HealthMonitorActor.Name);
        var runtime = system.ActorOf(NodeRuntimeActor.Props(dataPlane, settings, modules, nodeName, monitor), NodeRuntimeActor.Name);
        var follower = system.ActorOf(ConfigFollowerActor.Props(store, runtime, settings, time), ConfigFollowerActor.Name);
        system.ActorOf(Dispatch.NodeStatsActor.Props(dataPlane.Flows, runtime), Dispatch.NodeStatsActor.Name);
        if (sessions is not null) StartSessionCache(system, settings, sessions);
        AddDrain(system, runtime, settings.DrainTimeout, dataPlane.Flows);
        return new SslClusterHandles(system, settings, store, modules, runtime, monitor, backendServers, sessions, follower, formation)
        {
            JournalReady = journalReady.Task,
        };
    }
}
