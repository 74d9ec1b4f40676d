using System.Net;

namespace SslCluster.Protocol.Demo;

/// <summary>Settings of a <see cref="DemoHttpServer"/>.</summary>
public sealed record DemoHttpServerOptions
{
    /// <summary>Where to listen; port 0 picks a free port (see <see cref="DemoHttpServer.LocalEndPoint"/>).</summary>
    public required IPEndPoint EndPoint { get; init; }

    /// <summary>
    /// The server's name, shown on its page and sent in an <c>X-Backend-Name</c> header, so a test or an operator
    /// sees which backend answered a load-balanced request. Printable ASCII, at most 64 characters.
    /// </summary>
    public string Name { get; init; } = "demo";

    /// <summary>Largest request head (request line and headers) accepted; a larger one is answered with 431.</summary>
    public int MaxHeaderBytes { get; init; } = 16 * 1024;

    /// <summary>
    /// How long a connection may make no progress (no request bytes while waiting for one, no response bytes
    /// accepted by the client) before it is closed. Keeps idle keep-alive connections and stalled readers from
    /// piling up.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Listen backlog: connections the kernel queues before they are accepted.</summary>
    public int Backlog { get; init; } = 512;

    /// <summary>
    /// The demo backend binds to loopback only unless this is set: it echoes request headers to anyone who asks
    /// and streams gigabytes on request, which is fine inside one host and not on a network.
    /// </summary>
    public bool AllowNonLoopback { get; init; }

    /// <summary>Source of the <c>Date</c> header.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
