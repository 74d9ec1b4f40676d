namespace SslCluster.Protocol.Net;

/// <summary>Timeouts of one proxied connection. Immutable; validated by <see cref="Validate"/>.</summary>
public sealed record ProxyConnectionOptions
{
    /// <summary>Time a client has to complete the TLS handshake. Default 10 seconds (as Kestrel).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time the backend has to accept the connection. Default 5 seconds.</summary>
    public TimeSpan BackendConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// After one side has finished in a way that ends the exchange (the backend closed and close_notify went to the
    /// client; or, under TLS 1.2, the client sent close_notify and the proxy can no longer write to it), how long the
    /// other side gets to close before the proxy closes it. Default 5 seconds.
    /// </summary>
    public TimeSpan CloseLinger { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A client's waits for its bytes go through epoll of our own (<see cref="OpenSsl.SocketReadiness"/>) instead of the
    /// runtime's socket engine, where epoll is there: about 0.8 KiB less per idle client, at a CPU cost on bulk transfers
    /// (docs/configuration.md, "How client sockets wait"). Off unless the process's environment says
    /// <c>SSLCLUSTER_SOCKET_WAITS=epoll</c>; tests set it to run both paths.
    /// </summary>
    internal bool EpollSocketWaits { get; init; } = EpollWaitsChosen;

    private static readonly bool EpollWaitsChosen =
        string.Equals(Environment.GetEnvironmentVariable("SSLCLUSTER_SOCKET_WAITS"), "epoll", StringComparison.OrdinalIgnoreCase);

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("HandshakeTimeout must be positive.");
        }

        if (BackendConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("BackendConnectTimeout must be positive.");
        }

        if (CloseLinger < TimeSpan.Zero)
        {
            throw new ArgumentException("CloseLinger cannot be negative.");
        }
    }
}
