using System.Buffers;

namespace SslCluster.Protocol.Net;

/// <summary>
/// The drain of a flow whose back-end connection is its own and whose messages a transform frames
/// (<see cref="IDrainableFlow"/>): an HTTP/1.x flow (header insertion or URL rewrite without <c>http-reuse</c>, a client
/// that agreed <c>http/1.1</c> by ALPN, an SSLM client service with header insertion, or a flow judged by its client's
/// first bytes: a TLS client that named no protocol, a clear-text relay's client), or an HTTP/2 flow (a client that
/// agreed <c>h2</c> by ALPN). <see cref="GoAway"/> tells the transform (HTTP/1.x: the next request is the client's last,
/// its answer says <c>Connection: close</c>; HTTP/2: GOAWAY), and the relay, which runs in release mode
/// (<see cref="IdleRelease"/>), is looked at every <see cref="SweepEvery"/> from then on until it is released, ends, or
/// stops being framed. A released relay with nothing from the client waiting gets what the transform has to say
/// (<see cref="IDrainableFlow.AfterRelease"/>), then either its client is closed cleanly (the caller closes the back-end
/// connection with it) or it relays on; one whose client sent bytes meanwhile relays on over the same back-end
/// connection. Without this, such a client held the drain to its deadline and was cut there.
/// </summary>
internal sealed class DrainRelease : IIdleReleases
{
    /// <summary>How often a relay is looked at once the node drains, until it is released or ends.</summary>
    internal static readonly TimeSpan SweepEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>How a connection a drain closed between two requests ends, in its summary.</summary>
    internal const string ClosedBetweenRequests = "closed between two requests: the node is draining";

    /// <summary>How a connection a drain closed before its client sent anything ends, in its summary.</summary>
    internal const string ClosedBeforeFirstRequest = "closed before its first request: the node is draining";

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private IdleRelease? _relay;
    private bool _goingAway;

    public DrainRelease(IDrainableFlow exchange, TimeProvider? time = null)
    {
        Exchange = exchange ?? throw new ArgumentNullException(nameof(exchange));
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The flow's exchange, the relay's transform.</summary>
    public IDrainableFlow Exchange { get; }

    /// <summary>
    /// Relays between the client and the back end until either ends, or a drain ends the relay where the client loses
    /// nothing. <see cref="RelayState.Released"/> in the result means the latter: the client's side is closed here
    /// (close_notify then FIN, or FIN), and the caller closes the back-end connection. The byte counts cover every run
    /// when the relay went on after a release.
    /// </summary>
    public async Task<RelayState> RelayAsync(IRelayFrontEnd front, IRelayFrontEnd backend, TimeSpan closeLinger,
        CancellationToken cancellationToken, TimeSpan idleTimeout = default)
    {
        var totals = new RelayState();
        while (true)
        {
            var relay = await RelayPump.RunAsync(front, backend, closeLinger, Exchange, cancellationToken, idleTimeout,
                release: Exchange, releases: this);
            if (relay.Released && (front.InputWaiting || !await EndAfterReleaseAsync(front, relay, closeLinger, cancellationToken)))
            {
                // The client's bytes came as the relay was released, or the transform has more to wait for (HTTP/2: its
                // streams): they go over the same back-end connection, in release mode again, so that a client whose
                // bytes were no request (a TLS record without data) is still closed once idle.
                totals.Add(relay);
                continue;
            }

            relay.Add(totals);
            return relay;
        }
    }

    /// <summary>
    /// A released relay with nothing from the client waiting: sends the client what the transform has to say (counted),
    /// then either closes the client cleanly (true), or leaves the flow to relay on (false). A client that went away as we
    /// wrote to it ends the relay with that error instead (true, no longer released).
    /// </summary>
    private async Task<bool> EndAfterReleaseAsync(IRelayFrontEnd front, RelayState relay, TimeSpan closeLinger, CancellationToken cancellationToken)
    {
        try
        {
            var said = new ArrayBufferWriter<byte>();
            var close = Exchange.AfterRelease(said);
            if (said.WrittenCount > 0)
            {
                var bytes = said.WrittenSpan.ToArray();
                if (await front.WriteAsync(bytes, bytes.Length, cancellationToken)) relay.BackendToClient += bytes.Length;
            }
            if (!close) return false;
        }
        catch (RelayException e)
        {
            relay.Released = false;
            relay.TrySetError(e.Error, e.Message);
            return true;
        }

        // Where the client loses nothing, like a server closing an idle keep-alive connection: a clean end.
        await front.CloseWriteAsync(cancellationToken);
        if (Exchange.LingersAfterClose) await RelayPump.LingerAsync(front, closeLinger, cancellationToken);
        return true;
    }

    /// <summary>How a connection a drain closed ends, in its summary (after <see cref="RelayAsync"/>).</summary>
    public string ClosedMessage => Exchange.ClosedMessage;

    /// <summary>
    /// The node drains (any thread, once; later calls do nothing): the exchange is told (HTTP/1.x: its next request is the
    /// last; HTTP/2: GOAWAY), and the relay is released as soon as the exchange allows.
    /// </summary>
    public void GoAway()
    {
        // First, so that no sweep (started here or by Add) finds the exchange not yet going away; idempotent.
        Exchange.GoAway();
        IdleRelease? relay;
        lock (_gate)
        {
            if (_goingAway) return;
            _goingAway = true;
            relay = _relay;
        }

        if (relay is not null) _ = SweepAsync(relay);
    }

    void IIdleReleases.Add(IdleRelease release)
    {
        bool goingAway;
        lock (_gate)
        {
            _relay = release;
            goingAway = _goingAway;
        }

        if (goingAway) _ = SweepAsync(release);
    }

    void IIdleReleases.Remove(IdleRelease release)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_relay, release)) _relay = null;
        }
    }

    /// <summary>
    /// Tries the release until it happens, the relay ends, or its bytes stop being framed (a flow that turned out not to
    /// be HTTP, a tunnel: it ends by itself or at the drain's deadline). An idle client is released at the first look, one
    /// that just had bytes once idle for the exchange's <see cref="IDrainableFlow.IdleBeforeRelease"/> (HTTP/1.x: half a
    /// second, as under http-reuse).
    /// </summary>
    private async Task SweepAsync(IdleRelease relay)
    {
        try
        {
            while (true)
            {
                lock (_gate)
                {
                    if (!ReferenceEquals(_relay, relay)) return;
                }

                if (relay.TryRelease(Exchange.IdleBeforeRelease) || Exchange.FramingStopped) return;
                await Task.Delay(SweepEvery, _time);
            }
        }
#pragma warning disable CA1031 // A fire-and-forget loop must not end the process; the drain's deadline still ends the flow.
        catch (Exception e)
#pragma warning restore CA1031
        {
            System.Diagnostics.Trace.TraceError("drain release failed: " + e);
        }
    }
}
