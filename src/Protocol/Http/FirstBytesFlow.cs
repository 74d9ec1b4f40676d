using System.Buffers;
using SslCluster.Protocol.Net;

namespace SslCluster.Protocol.Http;

/// <summary>
/// A flow that may speak anything (a TLS client that named no protocol by ALPN, a clear-text relay's client), judged by
/// its first bytes so that a drain can end it where its client loses nothing: a client's first read that is HTTP/2's
/// preface or begins with it (<c>PRI * HTTP/2.0</c>, HTTP/2 with prior knowledge, as gRPC clients in clear text open; at
/// least its first four bytes), or a server that speaks first with an HTTP/2 SETTINGS frame (gRPC servers do not wait
/// for the preface), makes it an <see cref="Http2Exchange"/>, which passes the flow as it is if the rest is not HTTP/2;
/// anything else, or another server speaking first, an <see cref="HttpExchange"/> that frames it when those bytes are a
/// whole HTTP/1.x request line and passes it as it is otherwise. Every call goes to the one chosen; before the choice the
/// flow is not between messages and not releasable, and a read that brought nothing chooses nothing.
/// </summary>
public sealed class FirstBytesFlow : IDrainableFlow, IDisposable
{
    private IDrainableFlow? _inner;
    private int _goingAway;

    /// <summary>What the first bytes made of the flow (null until they came, or the server spoke first).</summary>
    internal IDrainableFlow? Chosen => Volatile.Read(ref _inner);

    private static ReadOnlySpan<byte> Http2Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>
    /// Whether the client's first read is HTTP/2's preface, its start (four bytes at least: <c>PRI</c> is a method of
    /// that preface alone), or begins with it.
    /// </summary>
    public static bool BeginsWithHttp2Preface(ReadOnlySpan<byte> first)
    {
        var n = Math.Min(first.Length, Http2Preface.Length);
        return n >= 4 && first[..n].SequenceEqual(Http2Preface[..n]);
    }

    /// <summary>Whether a server's first bytes are the header of an HTTP/2 SETTINGS frame (its preface): no flags, stream 0, whole settings.</summary>
    public static bool BeginsWithHttp2Settings(ReadOnlySpan<byte> first) =>
        first.Length >= 9 && first[3] == 0x4 && first[4] == 0 && first[5..9].IndexOfAnyExcept((byte)0) < 0 &&
        ((first[0] << 16) | (first[1] << 8) | first[2]) % 6 == 0;

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

        // Published (a full fence) before the drain flag is read, as GoAway sets that flag (a full fence) before it reads
        // this: one sees the other.
        if (Volatile.Read(ref _goingAway) != 0) fresh.GoAway();
        return fresh;
    }

    /// <inheritdoc />
    public void ProcessRequest(ReadOnlySpan<byte> clientBytes, IBufferWriter<byte> output)
    {
        var chosen = Chosen;
        if (chosen is null && clientBytes.IsEmpty) return;
        (chosen ?? Choose(BeginsWithHttp2Preface(clientBytes))).ProcessRequest(clientBytes, output);
    }

    /// <inheritdoc />
    public void Process(ReadOnlySpan<byte> backendBytes, IBufferWriter<byte> output)
    {
        var chosen = Chosen;
        if (chosen is null && backendBytes.IsEmpty) return;
        // A server that speaks before its client: an HTTP/2 server's SETTINGS, or another protocol, which HttpExchange
        // knows is not HTTP.
        (chosen ?? Choose(BeginsWithHttp2Settings(backendBytes))).Process(backendBytes, output);
    }

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
        Interlocked.Exchange(ref _goingAway, 1);
        Chosen?.GoAway();
    }

    bool IDrainableFlow.AfterRelease(IBufferWriter<byte> toClient) => Chosen?.AfterRelease(toClient) ?? false;

    /// <summary>Gives the chosen flow's pooled buffers back, once neither loop uses it.</summary>
    public void Dispose() => (Chosen as IDisposable)?.Dispose();
}
