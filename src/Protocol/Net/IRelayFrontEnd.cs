using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>Result of reading clear text from the client side.</summary>
internal readonly record struct FrontEndRead(int Count, bool End)
{
    public static FrontEndRead Ended => new(0, true);
}

/// <summary>
/// One side of a relay as clear text: plain TCP, or TLS after its handshake (the client side, or the back end of
/// a re-encrypted or initiated flow). Lets one pair of copy loops
/// (<see cref="RelayPump"/>) serve both. Errors come out as <see cref="RelayException"/> already classified.
/// </summary>
internal interface IRelayFrontEnd : IByteCounts
{
    /// <summary>Largest chunk <see cref="WriteAsync"/> takes at once (one TLS record for TLS).</summary>
    int MaxWriteChunk { get; }

    /// <summary>False once nothing more can be delivered to the client (we closed, or TLS 1.2 got close_notify).</summary>
    bool CanWrite { get; }

    /// <summary>True once the client has finished sending (EOF or close_notify).</summary>
    bool InputEnded { get; }

    /// <summary>
    /// Something was received that nobody has read yet (clear text or records held inside the TLS engine), or the
    /// peer finished: an idle back-end connection in this state is not handed to another client.
    /// </summary>
    bool HasPendingInput { get; }

    /// <summary>
    /// Something is there to read without waiting: <see cref="HasPendingInput"/>, or bytes in the socket. A socket that
    /// fails to say counts as readable, so that the read reports how it failed.
    /// </summary>
    bool InputWaiting { get; }

    /// <summary>Completes when <see cref="ReadAsync"/> has something to do; holds no buffer while waiting.</summary>
    ValueTask WaitReadableAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The side is idle (its loops wait, or have ended): gives back memory its engine keeps from what it carried. No
    /// effect on a side without one.
    /// </summary>
    void ReleaseIdleBuffers()
    {
    }

    /// <summary>
    /// Reads at most <paramref name="maxCount"/> bytes of clear text, after <see cref="WaitReadableAsync"/>. Count may be 0
    /// without End: a record with no application data, or nothing there after all (the wait's readiness was stale); the
    /// caller then waits again.
    /// </summary>
    ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken);

    /// <summary>Delivers clear text to the client; false when it can no longer be delivered (see CanWrite).</summary>
    ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken);

    /// <summary>Ends our sending side: close_notify then FIN for TLS, FIN for TCP. Never throws.</summary>
    ValueTask CloseWriteAsync(CancellationToken cancellationToken);
}

/// <summary>Which side of a flow an endpoint is: decides the <see cref="ProxyError"/> its failures carry.</summary>
internal enum RelaySide
{
    Client,
    Backend,
}

internal static class RelaySides
{
    public static string Name(this RelaySide side) => side == RelaySide.Client ? "client" : "backend";

    public static ProxyError Reset(this RelaySide side) => side == RelaySide.Client ? ProxyError.ClientReset : ProxyError.BackendReset;

    /// <summary>A receive on this side's socket failed: the side's reset, as the relay reports it.</summary>
    public static RelayException ReceiveFailed(this RelaySide side, SocketException e) =>
        new(side.Reset(), side.Name() + " receive failed: " + SocketIo.Describe(e), e);

    /// <summary>A send on this side's socket failed: the side's reset, as the relay reports it.</summary>
    public static RelayException SendFailed(this RelaySide side, SocketException e) =>
        new(side.Reset(), side.Name() + " send failed: " + SocketIo.Describe(e), e);

    public static ProxyError AlertReceived(this RelaySide side) =>
        side == RelaySide.Client ? ProxyError.ClientAlertReceived : ProxyError.BackendAlertReceived;

    public static ProxyError ProtocolError(this RelaySide side) =>
        side == RelaySide.Client ? ProxyError.ClientProtocolError : ProxyError.BackendProtocolError;
}

/// <summary>Bytes one side of a connection received and sent so far, readable from any thread while it runs.</summary>
public interface IByteCounts
{
    long BytesReceived { get; }

    long BytesSent { get; }
}
