using System.Net.Sockets;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// The runtime of one listener for one configuration revision: credentials, suites and balancers built once, then
/// used by every connection accepted under that revision. A connection keeps the runtime it started with, so a new
/// revision never changes a live connection; a retired runtime is disposed when its last connection ends.
/// </summary>
public interface IListenerRuntime
{
    ListenerPlan Plan { get; }

    long Revision { get; }

    /// <summary>The listener's stickiness table (kept across revisions), or null when its rule is not sticky.</summary>
    StickyTable? Sticky { get; }

    /// <summary>
    /// Runs one accepted client connection to its end, for <paramref name="module"/> (null for a clear-text relay),
    /// counting into <paramref name="counters"/> and keeping <paramref name="state"/> (phase, outcome) current. The
    /// connection is attached to <paramref name="state"/> (<see cref="ConnectionState.Attach"/>) before it runs, so that
    /// <see cref="ConnectionState.Abort"/> ends it: the connection actor aborts that way, with no token;
    /// <paramref name="cancellationToken"/> aborts it too (the warm-up, tests).
    /// </summary>
    Task RunAsync(Socket client, ModulePlan? module, FlowCounters counters, ConnectionState state, CancellationToken cancellationToken);

    /// <summary>Takes a reference for a connection; false when the runtime is already disposed.</summary>
    bool TryAcquire();

    /// <summary>Releases a connection's reference.</summary>
    void Release();

    /// <summary>No new connections will use this runtime; it is disposed once the last one ends.</summary>
    void Retire();

    /// <summary>
    /// Whether the chains this runtime sends are still what the store <paramref name="files"/> would give (the
    /// intermediates are found in the whole store, not named by the plan): false means rebuild even though nothing
    /// the plan names changed.
    /// </summary>
    bool ChainsCurrent(IReadOnlyDictionary<string, byte[]> files) => true;
}

/// <summary>Builds listener runtimes from a plan and the certificate store (file name to encoded store file).</summary>
public interface IDataPlane
{
    IListenerRuntime Build(RuntimePlan plan, ListenerPlan listener, IReadOnlyDictionary<string, byte[]> files);

    AddressMap Addresses { get; }

    /// <summary>Every module's counters on this node, as the data path keeps them.</summary>
    FlowRegistry Flows { get; }

    /// <summary>Open and total connections per service on this node.</summary>
    ServiceGauges Gauges { get; }

    /// <summary>Admission of new connections (connection limits, handshake rates).</summary>
    NodeLimits Limits { get; }

    /// <summary>
    /// Completes when the data path may take its first client: listeners bind as soon as their configuration is in force,
    /// and accept once this has completed (the node's start-up warm-up, <see cref="DataPathWarmUp"/>). Never faults.
    /// </summary>
    Task Warm => Task.CompletedTask;
}
