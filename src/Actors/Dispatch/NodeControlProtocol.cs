using SslCluster.Actors.Serialization;

namespace SslCluster.Actors.Dispatch;

/// <summary>
/// What one node asks of another's <see cref="NodeRuntimeActor"/> on an operator's behalf: a drain, so that
/// <c>sslctl cluster rolling-restart</c> and <c>sslctl cluster leave ADDRESS</c> work through any node's endpoint.
/// </summary>
public static class NodeControlProtocol
{
    /// <summary>
    /// Drain the receiving node: it stops accepting, hands its shards off, waits for its connections up to the drain
    /// timeout, leaves the cluster and exits (Akka's coordinated shutdown, as SIGTERM runs it). Answered at once with
    /// <see cref="DrainStarted"/>.
    /// </summary>
    public sealed record Drain : IClusterMessage
    {
        public static Drain Instance { get; } = new();
    }

    /// <summary>Query: does the receiving node serve, every listener of its revision bound? Answered with <see cref="Serving"/>.</summary>
    public sealed record GetServing : IClusterMessage
    {
        public static GetServing Instance { get; } = new();
    }

    public sealed record Serving(long Revision, bool Ready) : IClusterMessage;

    /// <summary>The drain runs (or already ran); <paramref name="OpenConnections"/> is -1 when the count did not arrive in time.</summary>
    public sealed record DrainStarted(string Node, bool AlreadyDraining, int OpenConnections, int DrainTimeoutSeconds) : IClusterMessage;
}
