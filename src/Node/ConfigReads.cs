using Akka.Actor;
using SslCluster.Actors;
using SslCluster.Actors.ConfigStore;

namespace SslCluster.Node;

/// <summary>An admin query whose actor did not answer in time: the endpoint answers 504 naming it, never a bare 500.</summary>
internal sealed class AdminTimeoutException(string what, TimeSpan timeout)
    : Exception($"{what} did not answer within {timeout.TotalSeconds:0.#} s; the node is overloaded or the cluster is changing, try again shortly");

/// <summary>
/// Reads of the configuration and the certificate store, answered from this node's copy (so their size never
/// crosses the network): first the store's revision is asked (a few bytes), then the copy is awaited until it holds
/// that revision, so a read after a write on any node sees the write.
/// </summary>
internal static class ConfigReads
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan StoreAttempt = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The store's revision, or null when it does not answer within a few seconds (moving, or its node lost). Asked in
    /// short attempts: while the store moves, the singleton proxy may still send to the lost node's copy, and a message
    /// sent there is lost; the next attempt, a moment later, reaches the copy that has started since. Each attempt waits
    /// twice as long as the one before (0.5 s, 1 s, then what is left), so a slow but live store still answers.
    /// </summary>
    public static async Task<long?> StoreRevisionAsync(SslClusterHandles h)
    {
        ArgumentNullException.ThrowIfNull(h);
        var deadline = DateTime.UtcNow + StoreTimeout;
        var attempt = StoreAttempt;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return null;
            try
            {
                return (await h.ConfigStore.Ask<ConfigStoreProtocol.RevisionAvailable>(ConfigStoreProtocol.GetRevision.Instance, left < attempt ? left : attempt)).Revision;
            }
            catch (AskTimeoutException)
            {
                attempt *= 2;
            }
        }
    }

    /// <summary>The copy, and a note when it may be older than the store's revision (store unreachable, copy still fetching).</summary>
    public static async Task<(ConfigFollowerActor.CurrentCopy Copy, string? Note)> CurrentAsync(SslClusterHandles h)
    {
        ArgumentNullException.ThrowIfNull(h);
        if (await StoreRevisionAsync(h) is not { } wanted)
        {
            var held = await AskAsync<ConfigFollowerActor.CurrentCopy>(h.ConfigFollower, ConfigFollowerActor.GetCopy.Instance, "this node's copy of the configuration", StoreTimeout);
            return (held, $"the configuration store did not answer within {StoreTimeout.TotalSeconds:0} s: this is revision {held.Revision} as this node holds it");
        }
        var copy = await AskAsync<ConfigFollowerActor.CurrentCopy>(h.ConfigFollower, new ConfigFollowerActor.WaitForRevision(wanted, CatchUpTimeout),
            "this node's copy of the configuration", CatchUpTimeout + TimeSpan.FromSeconds(2));
        return copy.Revision >= wanted
            ? (copy, null)
            : (copy, $"this node holds revision {copy.Revision} and is still fetching revision {wanted} from the configuration store");
    }

    /// <summary>An ask that fails with <see cref="AdminTimeoutException"/> naming <paramref name="what"/>.</summary>
    public static async Task<T> AskAsync<T>(IActorRef actor, object message, string what, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(actor);
        try
        {
            return await actor.Ask<T>(message, timeout);
        }
        catch (AskTimeoutException)
        {
            throw new AdminTimeoutException(what, timeout);
        }
    }
}
