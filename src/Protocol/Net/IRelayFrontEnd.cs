namespace SslCluster.Protocol.Net;

/// <summary>Result of reading clear text from the client side.</summary>
internal readonly record struct FrontEndRead(int Count, bool End)
{
    public static FrontEndRead Ended => new(0, true);
}

/// <summary>
/// The client side of a relay as clear text: plain TCP, or TLS after its handshake. Lets one pair of copy loops
/// (<see cref="RelayPump"/>) serve both. Errors come out as <see cref="RelayException"/> already classified.
/// </summary>
internal interface IRelayFrontEnd
{
    /// <summary>Largest chunk <see cref="WriteAsync"/> takes at once (one TLS record for TLS).</summary>
    int MaxWriteChunk { get; }

    /// <summary>False once nothing more can be delivered to the client (we closed, or TLS 1.2 got close_notify).</summary>
    bool CanWrite { get; }

    /// <summary>True once the client has finished sending (EOF or close_notify).</summary>
    bool InputEnded { get; }

    long BytesReceived { get; }

    long BytesSent { get; }

    /// <summary>Completes when <see cref="ReadAsync"/> has something to do; holds no buffer while waiting.</summary>
    ValueTask WaitReadableAsync(CancellationToken cancellationToken);

    /// <summary>Reads clear text. Count may be 0 without End (a record with no application data).</summary>
    ValueTask<FrontEndRead> ReadAsync(byte[] buffer, CancellationToken cancellationToken);

    /// <summary>Delivers clear text to the client; false when it can no longer be delivered (see CanWrite).</summary>
    ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken);

    /// <summary>Ends our sending side: close_notify then FIN for TLS, FIN for TCP. Never throws.</summary>
    ValueTask CloseWriteAsync(CancellationToken cancellationToken);
}
