using System.Buffers;
using SslCluster.Protocol.Net;

namespace SslCluster.Protocol.Http;

/// <summary>
/// A flow that may speak anything (a TLS client that named no protocol by ALPN, a clear-text relay's client), judged by
/// its client's first bytes so that a drain can end it where its client loses nothing: a first read that begins with the
/// first line of HTTP/2's preface (<c>PRI * HTTP/2.0</c>, HTTP/2 with prior knowledge, as gRPC clients in clear text
/// open) makes it an <see cref="Http2Exchange"/>; anything else, or a server that speaks first, an
/// <see cref="HttpExchange"/> that frames it when those bytes are a whole HTTP/1.x request line and passes it as it is
/// otherwise. Every call goes to the one chosen; before the choice the flow is not between messages and not releasable.
/// </summary>
public sealed class FirstBytesFlow : IDrainableFlow, IDisposable
{
    private IDrainableFlow? _inner;
    private volatile bool _goingAway;

    /// <summary>What the first bytes made of the flow (null until they came, or the server spoke first).</summary>
    internal IDrainableFlow? Chosen => Volatile.Read(ref _inner);

    /// <summary>Whether the client's first read begins with the first line of HTTP/2's preface, line end included.</summary>
    public static bool BeginsWithHttp2Preface(ReadOnlySpan<byte> first) => first.StartsWith("PRI * HTTP/2.0\r\n"u8);

    /// <summary>The one flow, chosen at the first call of either side; later calls get the same.</summary>
    private IDrainableFlow Choose(bool http2)
    {
        IDrainableFlow fresh = http2 ? new Http2Exchange() : new HttpExchange(null, sniff: true);
        var chosen = Interlocked.CompareExchange(ref _inner, fresh, null);
        if (chosen is not null)
        {
            // The other side chose first.
            (fresh as IDisposable)?.Dispose();
            return chosen;
        }

        // Published before the drain flag is read, as GoAway sets that flag before it reads this: one sees the other.
        if (_goingAway) fresh.GoAway();
        return fresh;
    }

    /// <inheritdoc />
    public void ProcessRequest(ReadOnlySpan<byte> clientBytes, IBufferWriter<byte> output) =>
        (Chosen ?? Choose(BeginsWithHttp2Preface(clientBytes))).ProcessRequest(clientBytes, output);

    /// <inheritdoc />
    public void Process(ReadOnlySpan<byte> backendBytes, IBufferWriter<byte> output) =>
        // A server that speaks before its client: HttpExchange knows such a flow is not HTTP.
        (Chosen ?? Choose(false)).Process(backendBytes, output);

    /// <inheritdoc />
    public bool RequestsEnded => Chosen?.RequestsEnded ?? false;

    /// <inheritdoc />
    public bool RequestsRefused => Chosen?.RequestsRefused ?? false;

    /// <inheritdoc />
    public bool ExchangeOver => Chosen?.ExchangeOver ?? false;

    /// <inheritdoc />
    public void CompleteRequests(IBufferWriter<byte> output) => Chosen?.CompleteRequests(output);

    /// <inheritdoc />
    public RequestEnd EndRequests() => Chosen?.EndRequests() ?? RequestEnd.HalfClose;

    /// <inheritdoc />
    public void Complete(IBufferWriter<byte> output) => Chosen?.Complete(output);

    bool IDrainableFlow.BetweenMessages => Chosen?.BetweenMessages ?? false;

    bool IDrainableFlow.Releasable => Chosen?.Releasable ?? false;

    bool IDrainableFlow.FramingStopped => Chosen?.FramingStopped ?? false;

    TimeSpan IDrainableFlow.IdleBeforeRelease => Chosen?.IdleBeforeRelease ?? BackendPool.IdleClientAfter;

    bool IDrainableFlow.LingersAfterClose => Chosen?.LingersAfterClose ?? false;

    string IDrainableFlow.ClosedMessage => Chosen?.ClosedMessage ?? DrainRelease.ClosedBeforeFirstRequest;

    /// <inheritdoc />
    public void GoAway()
    {
        _goingAway = true;
        Chosen?.GoAway();
    }

    bool IDrainableFlow.AfterRelease(IBufferWriter<byte> toClient) => Chosen?.AfterRelease(toClient) ?? false;

    /// <summary>Gives the chosen flow's pooled buffers back, once neither loop uses it.</summary>
    public void Dispose() => (Chosen as IDisposable)?.Dispose();
}
