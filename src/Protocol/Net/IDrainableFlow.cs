using System.Buffers;

namespace SslCluster.Protocol.Net;

/// <summary>
/// A relay transform that knows where its flow's messages begin and end, so that a drain can end the flow where its
/// client loses nothing (<see cref="DrainRelease"/>): an HTTP/1.x exchange (<see cref="Http.HttpExchange"/>: between two
/// requests), or an HTTP/2 connection (<see cref="Http.Http2Exchange"/>: GOAWAY, then once its last stream is done).
/// The relay runs in release mode (<see cref="IdleRelease"/>): a sweep stops both loops, leaving both connections open,
/// when the client loop waits <see cref="BetweenMessages"/>, the response loop waits for the back end with everything
/// sent, and <see cref="Releasable"/> holds; the drain then writes what <see cref="AfterRelease"/> gives and either
/// closes the client or relays on.
/// </summary>
internal interface IDrainableFlow : IRelayTransform
{
    /// <summary>The client loop may be stopped where it waits now (client thread).</summary>
    bool BetweenMessages { get; }

    /// <summary>With both loops waiting, the relay may be stopped now (any thread).</summary>
    bool Releasable { get; }

    /// <summary>The flow will never be releasable again: it ends by itself or at the drain's deadline (any thread).</summary>
    bool FramingStopped { get; }

    /// <summary>How long no byte must have moved either way before the relay is stopped.</summary>
    TimeSpan IdleBeforeRelease { get; }

    /// <summary>The node is draining (any thread, idempotent).</summary>
    void GoAway();

    /// <summary>
    /// The relay was stopped (both loops have ended, nothing from the client is waiting): writes to
    /// <paramref name="toClient"/> what goes to the client now, and says whether the client is then closed (true) or the
    /// flow relays on in release mode (false).
    /// </summary>
    bool AfterRelease(IBufferWriter<byte> toClient);

    /// <summary>
    /// After the drain's close, read and drop what the client still sends until its end (for the relay's close linger at
    /// most) before the socket is closed: for a protocol whose clients keep sending after the last answer (HTTP/2's
    /// WINDOW_UPDATE and PING acknowledgements), whose bytes, unread at the close, would make it a reset that can
    /// destroy the last answer's end on its way.
    /// </summary>
    bool LingersAfterClose { get; }

    /// <summary>How a connection the drain closed ends, in its summary.</summary>
    string ClosedMessage { get; }
}
