using System.Diagnostics;
using System.Net.Sockets;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>
/// One accepted client connection of a TLS offload proxy, from handshake to close.
/// <code>
///   client ==TLS==> [handshake, timeout] --(only then)--> dial backend --> [two copy loops] --> close, report once
/// </code>
/// A handshake never costs a backend connection; a slow or abusive client costs bounded memory (pooled 16 KiB
/// buffers, none while idle) and at most the handshake timeout. The connection keeps the bindings (selector) and
/// options it was created with until it ends, whatever the configuration does meanwhile. See
/// <see cref="RelayPump"/> for the copy loops and half-close rules, <see cref="ProxyError"/> for the outcomes.
/// </summary>
public sealed class TlsProxyConnection : IDisposable, IAbortable
{
    private readonly Socket _client;
    private readonly TlsEngine _engine;
    private readonly TlsBindingSelector _selector;
    private readonly IFlowRoutes _routes;
    private readonly ProxyConnectionOptions _options;
    private readonly IConnectionObserver? _observer;
    private readonly CancellationTokenSource _lifetime = new();
    private int _started;
    private int _aborted;
    private BackendLeg? _backend;
    // A drain (GoAway): the HTTP exchange to end at its next answer or, idle between two messages, now (its drain
    // release), and the wait for a keep-alive client's next request to end now (published while it runs; GoAway takes
    // it and cancels it).
    private int _goingAway;
    private Http.HttpExchange? _exchange;
    private DrainRelease? _drain;
    private CancellationTokenSource? _idleWait;

    /// <summary>Creates the connection; nothing happens until <see cref="RunAsync"/>.</summary>
    /// <param name="client">The accepted client socket; the connection owns and closes it.</param>
    /// <param name="engine">Shared TLS engine (crypto, session store, options).</param>
    /// <param name="selector">Chooses the ssl-server from SNI (snapshot of the configuration revision).</param>
    /// <param name="dialBackend">Connects to the destination after the handshake; the connection owns the socket.</param>
    /// <param name="options">Timeouts; defaults when null.</param>
    /// <param name="observer">Lifecycle callbacks for counters; optional.</param>
    public TlsProxyConnection(Socket client, TlsEngine engine, TlsBindingSelector selector,
        Func<HandshakeInfo, CancellationToken, ValueTask<Socket>> dialBackend, ProxyConnectionOptions? options = null,
        IConnectionObserver? observer = null)
        : this(client, engine, selector, Plain(dialBackend), options, observer)
    {
    }

    /// <summary>
    /// Creates the connection with a dial that may ask for TLS towards the real server (re-encryption), and an
    /// optional transform of the clear text (URL rewrite) chosen from the handshake.
    /// </summary>
    public TlsProxyConnection(Socket client, TlsEngine engine, TlsBindingSelector selector,
        Func<HandshakeInfo, CancellationToken, ValueTask<BackendLink>> dialBackend, ProxyConnectionOptions? options,
        IConnectionObserver? observer, Func<HandshakeInfo, IRelayTransform?>? transformFor = null)
        : this(client, engine, selector, new DelegateRoutes(dialBackend ?? throw new ArgumentNullException(nameof(dialBackend)), transformFor),
            options, observer)
    {
    }

    /// <summary>
    /// The same, with the flow's routes in one object (the data plane's, which may also re-use back-end connections:
    /// <c>ssl-server N http-reuse</c>). Under re-use, for the flows whose <see cref="IFlowRoutes.ReuseFor"/> gives a pool
    /// and whose transform is an <see cref="Http.HttpExchange"/> that owns the back-end connection, the back end is chosen
    /// when a request head is whole, an idle connection is tried first, and the connection goes back to the pool when the
    /// exchange ends, or the client is idle, between two messages.
    /// </summary>
    internal TlsProxyConnection(Socket client, TlsEngine engine, TlsBindingSelector selector, IFlowRoutes routes,
        ProxyConnectionOptions? options, IConnectionObserver? observer)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentNullException.ThrowIfNull(routes);
        _options = options ?? new ProxyConnectionOptions();
        _options.Validate();
        _client = client;
        _engine = engine;
        _selector = selector;
        _routes = routes;
        _observer = observer;
        Id = ConnectionIds.Next();
    }

    private static Func<HandshakeInfo, CancellationToken, ValueTask<BackendLink>> Plain(
        Func<HandshakeInfo, CancellationToken, ValueTask<Socket>> dial)
    {
        ArgumentNullException.ThrowIfNull(dial);
        return async (h, ct) => new BackendLink(await dial(h, ct));
    }

    /// <summary>Process-unique id, as given to the observer.</summary>
    public long Id { get; }

    /// <summary>The negotiated parameters, once the handshake completed.</summary>
    public HandshakeInfo? Handshake { get; private set; }

    /// <summary>
    /// Runs the connection to its end and returns its summary (also given to the observer). Never throws for
    /// anything the client, the backend or an abort does; cancelling <paramref name="cancellationToken"/> aborts.
    /// </summary>
    public async Task<ConnectionSummary> RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync can only be called once per connection.");
        }

        long start = Stopwatch.GetTimestamp();
        long handshakeEnd = 0;
        ProxyError error = ProxyError.None;
        string message = "";
        bool dialled = false;
        RelayState? relay = null;
        TlsSocketSide? front = null;
        using var registration = cancellationToken.Register(Abort);
        ConnectionIds.Notify(_observer, (Id, _client), static (o, s) => o.HandshakeStarted(s.Id, SafeRemoteEndPoint(s._client)));
        try
        {
            _client.NoDelay = true;
            front = new TlsSocketSide(_client, OpenSsl.SslConnection.CreateServer(_engine.Front, Select), _engine.Options.RequireClientCloseNotify,
                epollWaits: _options.EpollSocketWaits);
            ConnectionIds.Notify(_observer, (Id, front), static (o, s) => o.ClientSideOpened(s.Id, s.front));
            (error, message, var handshake) = await HandshakeAsync(front);
            handshakeEnd = Stopwatch.GetTimestamp();
            if (error == ProxyError.None && handshake!.ClientAuth?.RedirectUrl is { } failureUrl)
            {
                // Client authentication failed under 'failure redirect': answer here, never dial the backend.
                Handshake = handshake;
                ConnectionIds.Notify(_observer, (Id, handshake), static (o, s) => o.HandshakeCompleted(s.Id, s.handshake));
                (error, message) = await ClientAuthRedirect.AnswerAsync(front, failureUrl, _options.HandshakeTimeout, _lifetime.Token);
            }
            else if (error == ProxyError.None)
            {
                Handshake = handshake!;
                ConnectionIds.Notify(_observer, (Id, Handshake: handshake!), static (o, s) => o.HandshakeCompleted(s.Id, s.Handshake));

                dialled = true;
                var transform = _routes.TransformFor(handshake!);
                var reuse = transform is Http.HttpExchange { OwnsBackendConnection: true } ? _routes.ReuseFor(handshake!) : null;
                // Under http-reuse the relay's wait is the drain's; without it, the flow's own DrainRelease (none is made
                // for a flow that does not need it: an idle connection keeps it).
                var drain = transform is IDrainableFlow flow && reuse is null ? new DrainRelease(flow) : null;
                if (transform is IDrainableFlow)
                {
                    // Published before the drain flag is read, as GoAway sets that flag before it reads these: one sees the other.
                    Interlocked.Exchange(ref _drain, drain);
                    Interlocked.Exchange(ref _exchange, transform as Http.HttpExchange);
                    if (GoingAway) TellGoAway();
                }

                relay = new RelayState();
                try
                {
                    if (reuse is not null)
                    {
                        (error, message, dialled) = await RelayReusingAsync(front, handshake!, (Http.HttpExchange)transform!, reuse, relay, handshakeEnd);
                    }
                    else
                    {
                        (error, message) = await RelayOnceAsync(front, handshake!, transform, drain, relay);
                    }
                }
                finally
                {
                    // Both copy loops have ended: the transform's pooled buffers can go back.
                    (transform as IDisposable)?.Dispose();
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException && IsAborted)
        {
            error = ProxyError.Aborted;
        }
#pragma warning disable CA1031 // Last line of defence: a defect must end this connection, not the process.
        catch (Exception e)
#pragma warning restore CA1031
        {
            error = ProxyError.InternalError;
            message = "internal error: " + e;
        }
        finally
        {
            // The sides first: a side readies its socket's close (EngineReadiness.BeforeClose).
            front?.Dispose();
            Volatile.Read(ref _backend)?.Dispose();
            CloseSockets();
        }

        if (IsAborted && error == ProxyError.None)
        {
            error = ProxyError.Aborted;
        }

        if (message.Length == 0)
        {
            message = error.Describe();
        }

        long end = Stopwatch.GetTimestamp();
        var summary = new ConnectionSummary(Id, error, message, Handshake, dialled,
            relay?.ClientToBackend ?? 0, relay?.BackendToClient ?? 0, relay?.Discarded ?? 0,
            front?.BytesReceived ?? 0, front?.BytesSent ?? 0,
            Stopwatch.GetElapsedTime(start, handshakeEnd == 0 ? end : handshakeEnd),
            Stopwatch.GetElapsedTime(start, end)) { RefusedClientAuth = _refusedClientAuth };
        ConnectionIds.Notify(_observer, (Id, summary), static (o, s) => o.Closed(s.Id, s.summary));
        return summary;
    }

    /// <summary>The flow over one back-end connection, dialled now, for the whole client connection.</summary>
    private async Task<(ProxyError Error, string Message)> RelayOnceAsync(TlsSocketSide front, HandshakeInfo handshake,
        IRelayTransform? transform, DrainRelease? drain, RelayState totals)
    {
        var (leg, error, message) = await BackendDialer.ConnectAsync(ct => _routes.DialAsync(handshake, ct), _options, _lifetime.Token);
        Volatile.Write(ref _backend, leg);
        if (!Taken(leg))
        {
            // Tell the client it is not a clean end, never with close_notify.
            if (error is not (ProxyError.Aborted or ProxyError.None)) front.Fail();
            return (error, message);
        }

        var relay = drain is null
            ? await RelayPump.RunAsync(front, leg.Side, _options.CloseLinger, transform, _lifetime.Token, leg.Link.IdleTimeout)
            : await drain.RelayAsync(front, leg.Side, _options.CloseLinger, _lifetime.Token, leg.Link.IdleTimeout);
        totals.Add(relay);
        if (relay.Released)
        {
            // A drain ended it between two messages: the client was closed cleanly, the back-end connection goes with it.
            return (ProxyError.None, drain!.ClosedMessage);
        }

        return Ended(relay);
    }

    /// <summary>
    /// A back-end connection was (or was not) taken: closed at once when an abort ran meanwhile (it could not see it),
    /// and reported to the observer. False when there is none.
    /// </summary>
    private bool Taken([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] BackendLeg? leg)
    {
        if (IsAborted) leg?.Link.Socket.Dispose();
        if (leg is null) return false;
        var backendEndPoint = SafeRemoteEndPoint(leg.Link.Socket);
        ConnectionIds.Notify(_observer, (Id, backendEndPoint), static (o, s) => o.BackendConnected(s.Id, s.backendEndPoint));
        return true;
    }

    /// <summary>How a relay that was not released ends the client connection.</summary>
    private (ProxyError Error, string Message) Ended(RelayState relay)
    {
        if (relay.Error.CutsTheAnswer())
        {
            // The back end's TLS stream failed mid-answer: the client must see it failed too, not a clean end.
            SocketIo.ResetOnClose(_client);
        }

        return (relay.Error, relay.Message);
    }

    /// <summary>
    /// An http-reuse flow: for each run of requests (one, or several sent back to back), a back-end connection taken from
    /// the pool or dialled when a request head is whole, relayed over until the client ends or the pool's sweep finds it
    /// idle between two messages with every answer sent (<see cref="IdleRelease"/>), then given back to the pool when it
    /// may serve another request. An idle keep-alive client holds no back-end connection; a busy one keeps its own.
    /// </summary>
    private async Task<(ProxyError Error, string Message, bool Dialled)> RelayReusingAsync(TlsSocketSide front, HandshakeInfo handshake,
        Http.HttpExchange exchange, BackendReuse reuse, RelayState totals, long handshakeEnd)
    {
        // This method is what an idle keep-alive client keeps pending between two runs of requests, so it holds only the
        // wait's own state; a run of requests is served by ServeAsync, whose larger state exists only while it runs.
        for (var first = true; ; first = false)
        {
            // The first request must come within its time of the handshake; the next ones within the ssl-server's idle timeout.
            var wait = first ? reuse.FirstRequestTimeout : reuse.KeepAliveTimeout;
            // The wait's source is published for a drain: GoAway takes it and cancels it, so that a client waiting for a
            // request is closed rather than holding the drain to its deadline.
            var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
            var ownsTimeout = true;
            // How the connection ends without another request (null: one is coming): an error, or a drain's clean close.
            (ProxyError Error, string Message, bool Drained)? ended = null;
            var serving = false;
            try
            {
                if (wait > TimeSpan.Zero) timeout.CancelAfter(wait);
                var token = timeout.Token;
                Interlocked.Exchange(ref _idleWait, timeout);
                var silent = true;
                try
                {
                    // The client's silence is waited out here, holding no buffer, before AcquireAsync's larger state
                    // exists. A drain that came first ends it before it starts (the flag is read after the source was
                    // published).
                    if (!GoingAway)
                    {
                        // Bytes, not a stale wake: a wake here leaves the wait a drain can end.
                        do await front.WaitReadableAsync(token);
                        while (front.ReadinessStale);
                        silent = false;
                    }
                }
                catch (OperationCanceledException) when (!_lifetime.IsCancellationRequested)
                {
                    if (!GoingAway) ended = (ProxyError.IdleTimeout, NoRequest(first, wait), false);
                }
                catch (RelayException e)
                {
                    ended = (e.Error, e.Message, false);
                }
                finally
                {
                    // Taken back before it can be disposed, so GoAway never cancels a disposed source. When a drain took
                    // it (and cancels it), it is not ours to dispose (its link to the lifetime ends with the connection),
                    // nor to read a request with: the drain's deadline bounds the rest.
                    if (Interlocked.CompareExchange(ref _idleWait, null, timeout) != timeout) ownsTimeout = false;
                }

                if (silent && ended is null)
                {
                    // The node drains (nothing else leaves the wait silent without an error). A client that just
                    // connected is given until GoAwayFirstRequestGrace after its handshake to send its first request,
                    // which it is about to; one between two requests has been idle half a second already (its relay
                    // was released). A request that is here is answered (the exchange gives it Connection: close);
                    // else the connection closes now, cleanly, as a server closes an idle keep-alive connection, and
                    // the client's next request goes to another node.
                    if (first) await WaitBrieflyAsync(front, GoAwayFirstRequestGrace - Stopwatch.GetElapsedTime(handshakeEnd));
                    if (!front.InputWaiting)
                    {
                        ended = (ProxyError.None, first ? DrainRelease.ClosedBeforeFirstRequest : DrainRelease.ClosedBetweenRequests, true);
                    }
                }

                serving = ended is null;
            }
            finally
            {
                // A request is coming: ServeAsync takes the source over (it reads the request within its time).
                if (ownsTimeout && !serving) timeout.Dispose();
            }

            if (ended is { } end)
            {
                await EndWithoutRequestAsync(front, end.Error, first, end.Drained);
                // A client that never asked anything cost no back-end connection.
                return (end.Error, end.Message, !first);
            }

            if (await ServeAsync(front, handshake, exchange, reuse, totals, first, wait, ownsTimeout ? timeout : null) is { } done) return done;
        }
    }

    /// <summary>
    /// Ends an http-reuse client that gets no (more) request relayed: cleanly between two messages (its idle timeout,
    /// or a drain), like a server closing an idle keep-alive connection; after a failure, never with close_notify.
    /// </summary>
    private async ValueTask EndWithoutRequestAsync(TlsSocketSide front, ProxyError error, bool first, bool drained)
    {
        if ((error == ProxyError.IdleTimeout && !first) || drained) await front.CloseWriteAsync(_lifetime.Token);
        else if (error is not (ProxyError.Aborted or ProxyError.None)) front.Fail();
    }

    /// <summary>
    /// One run of requests of an http-reuse flow, whose first bytes are here: a back-end connection acquired for them and
    /// relayed over until the client ends or is released. Null when the client was released and its back-end connection
    /// went back to the pool: the caller waits for its next request. <paramref name="timeout"/> (the wait's source, disposed
    /// here once the requests went out) bounds the reading of the request; null when a drain took it.
    /// </summary>
    private async Task<(ProxyError Error, string Message, bool Dialled)?> ServeAsync(TlsSocketSide front, HandshakeInfo handshake,
        Http.HttpExchange exchange, BackendReuse reuse, RelayState totals, bool first, TimeSpan wait, CancellationTokenSource? timeout)
    {
        (BackendLeg? Leg, ProxyError Error, string Message, (long, byte[], int)? Started, bool Dialled) acquired;
        try
        {
            acquired = await AcquireAsync(front, handshake, exchange, reuse, first, wait, timeout?.Token ?? _lifetime.Token);
        }
        finally
        {
            // The requests went out over a back-end connection (or never came): the relay's own timeouts take over.
            timeout?.Dispose();
        }

        var leg = acquired.Leg;
        if (!Taken(leg))
        {
            await EndWithoutRequestAsync(front, acquired.Error, first, drained: false);
            // A client that never asked anything cost no back-end connection.
            return (acquired.Error, acquired.Message, !first || acquired.Dialled);
        }

        var relay = await RelayPump.RunAsync(front, leg.Side, _options.CloseLinger, exchange, _lifetime.Token,
            leg.Link.IdleTimeout, acquired.Started, release: exchange, releases: reuse.Pool);
        totals.Add(relay);
        var released = relay is { Released: true, BackendKept: true, Error: ProxyError.None, ForwardInFlight: false } && !IsAborted;
        if (relay is { BackendKept: true, Error: ProxyError.None, ForwardInFlight: false } && exchange.BackendReusable &&
            leg.Link.ReuseKey is { } key && Interlocked.Exchange(ref _backend, null) is { } kept)
        {
            // Taken from _backend first, then the abort flag read: an abort either sees no leg, or is seen here.
            if (IsAborted) kept.Dispose();
            // Between two messages with every request answered: the next request, this client's or another's, can use it.
            else reuse.Pool.Return(key, kept);
            if (!released) return (ProxyError.None, relay.Message, true);
            exchange.NextConnection();
            return null;
        }

        if (released && GoingAway && !front.InputWaiting)
        {
            // Released by a drain with every answer sent, over a back-end connection that is the client's own
            // (HTTP/1.0 keep-alive, NTLM) or turned out unfit as the loops ended: both are closed, the client
            // cleanly, as an idle keep-alive connection. A request that came meanwhile is relayed below (the
            // exchange answers it with Connection: close).
            Interlocked.Exchange(ref _backend, null)?.Dispose();
            await front.CloseWriteAsync(_lifetime.Token);
            return (ProxyError.None, DrainRelease.ClosedBetweenRequests, true);
        }

        if (released)
        {
            // Released, but the connection turned out unfit for another request as the loops ended (bytes from the
            // server that nothing asked for, arriving just then): relay on over it to the end, as without release.
            relay = await RelayPump.RunAsync(front, leg.Side, _options.CloseLinger, exchange, _lifetime.Token, leg.Link.IdleTimeout);
            totals.Add(relay);
        }

        var (endError, endMessage) = Ended(relay);
        return (endError, endMessage, true);
    }

    /// <summary>
    /// How long after its handshake a client is given to send its first request when the node drains: a client sends it
    /// within a round trip of the handshake; one silent for longer (a browser's preconnect) is closed.
    /// </summary>
    internal static readonly TimeSpan GoAwayFirstRequestGrace = TimeSpan.FromSeconds(1);

    /// <summary>Waits up to <paramref name="within"/> for the client's bytes; returns early when they come or the connection ends.</summary>
    private async ValueTask WaitBrieflyAsync(TlsSocketSide front, TimeSpan within)
    {
        if (within <= TimeSpan.Zero || front.InputWaiting) return;
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        grace.CancelAfter(within);
        try
        {
            do await front.WaitReadableAsync(grace.Token);
            while (front.ReadinessStale);
        }
        catch (OperationCanceledException) when (!_lifetime.IsCancellationRequested)
        {
            // Nothing came in time: the caller closes the connection.
        }
        catch (RelayException)
        {
            // The socket failed: the caller looks at what is there (a failed socket reads as readable, and the read
            // reports how it failed), as after the wait for a request.
        }
    }

    private static string NoRequest(bool first, TimeSpan wait) => first
        ? $"no request within {wait.TotalSeconds:0.###} s of the handshake"
        : $"no next request within {wait.TotalSeconds:0.###} s (ssl-server idle timeout)";

    /// <summary>
    /// The back-end connection of an http-reuse flow for its next requests: reads until a request head is whole (the
    /// first within the reuse's time of the handshake, a later one within the ssl-server's idle timeout, if any, of the
    /// release: the whole head must come within it), then sends what was read over an idle connection to the chosen
    /// server when it may be sent twice, and waits for the first bytes of the answer there; a connection its server
    /// closed meanwhile is dropped and the next one tried. When none is kept, or the requests may not be replayed, the
    /// server is dialled. The requests go out either way; the answer bytes already read are for the relay to pass on.
    /// </summary>
    private async Task<(BackendLeg? Leg, ProxyError Error, string Message, (long, byte[], int)? Started, bool Dialled)> AcquireAsync(
        TlsSocketSide front, HandshakeInfo handshake, Http.HttpExchange exchange, BackendReuse reuse, bool first, TimeSpan wait,
        CancellationToken token)
    {
        using var pending = new RelayOutput();
        // The request read in one go and passed unchanged stays in its read buffer (no copy); else it is in pending.
        byte[]? request = null;
        var count = 0;
        try
        {
            // The caller waited for the first bytes (RelayReusingAsync); the rest of a head split over reads is waited for here.
            for (var readable = true; !exchange.HasRequest; readable = false)
            {
                // No buffer is held while the client is silent: an idle connection costs its TLS state only.
                if (!readable) await front.WaitReadableAsync(token);
                byte[]? buffer = SocketIo.Rent();
                try
                {
                    var read = await front.ReadAsync(buffer, SocketIo.BufferSize, token);
                    if (read.End)
                    {
                        // The client left without asking anything (more): a clean end, and no server was bothered.
                        await front.CloseWriteAsync(_lifetime.Token);
                        return (null, ProxyError.None, first ? "client closed before sending a request" : "", null, false);
                    }

                    pending.Begin(buffer);
                    exchange.ProcessRequest(buffer.AsSpan(0, read.Count), pending);
                    if (!exchange.HasRequest) pending.Keep();
                    // The whole request passed unchanged from this one read: it is sent from this buffer.
                    else if (pending.TakeDirect(out var direct) && direct > 0) (request, count, buffer) = (buffer, direct, null);
                }
                finally
                {
                    if (buffer is not null) SocketIo.Return(buffer);
                }
            }
        }
        catch (OperationCanceledException) when (!_lifetime.IsCancellationRequested)
        {
            return (null, ProxyError.IdleTimeout, NoRequest(first, wait), null, false);
        }
        catch (RelayException e)
        {
            return (null, e.Error, e.Message, null, false);
        }

        if (request is null && pending.Count == 0 && exchange.RequestRefused)
        {
            // Refused before anything of it could go out (header insertion and bytes it cannot frame strictly): no
            // server is bothered, and the client, owed nothing else, gets a 400 and is closed.
            try
            {
                var answer = Http.HttpExchange.RefusalAnswer.ToArray();
                await front.WriteAsync(answer, answer.Length, _lifetime.Token);
                await front.CloseWriteAsync(_lifetime.Token);
            }
            catch (RelayException e)
            {
                return (null, e.Error, e.Message, null, false);
            }

            return (null, ProxyError.None, "client request refused: it cannot be framed strictly under header insertion", null, false);
        }

        if (request is null)
        {
            count = pending.Count;
            request = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(count, 1));
            pending.Take(request, count);
        }

        try
        {
            // The server is chosen now that there is a request for it (the balancer sees the load of this moment).
            var choice = _routes.ChooseBackend(handshake);
            if (choice is { } chosen && exchange.Replayable)
            {
                while (reuse.Pool.TryTake(chosen.Key) is { } idle)
                {
                    Volatile.Write(ref _backend, idle);
                    if (await TryFirstAnswerAsync(idle, request, count) is { } answer)
                    {
                        return (idle, ProxyError.None, "", (count, answer.Buffer, answer.Count), true);
                    }

                    // Closed by its server as we sent (its keep-alive time ran out): the request is sent again elsewhere.
                    Volatile.Write(ref _backend, null);
                    idle.Dispose();
                    if (IsAborted) return (null, ProxyError.Aborted, "aborted while sending a request", null, true);
                }
            }

            var dial = choice?.Dial ?? (ct => _routes.DialAsync(handshake, ct));
            var (leg, error, message) = await BackendDialer.ConnectAsync(dial, _options, _lifetime.Token);
            Volatile.Write(ref _backend, leg);
            if (leg is null)
            {
                return (null, error, message, null, true);
            }

            try
            {
                await WriteAllAsync(leg.Side, request, count, _lifetime.Token);
            }
            catch (RelayException e)
            {
                // The leg stays in _backend: the connection's end closes it.
                return (null, e.Error, e.Message, null, true);
            }

            return (leg, ProxyError.None, "", (count, [], 0), true);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(request);
        }
    }

    /// <summary>
    /// Sends the request over an idle connection and reads the first bytes of its answer (the buffer is the caller's
    /// to return), within the ssl-server's idle timeout when it has one; null when the connection ended or failed
    /// before any byte came back.
    /// </summary>
    private async Task<(byte[] Buffer, int Count)?> TryFirstAnswerAsync(BackendLeg idle, byte[] request, int count)
    {
        byte[] buffer = SocketIo.Rent();
        using var timeout = idle.Link.IdleTimeout > TimeSpan.Zero ? CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token) : null;
        timeout?.CancelAfter(idle.Link.IdleTimeout);
        var token = timeout?.Token ?? _lifetime.Token;
        try
        {
            await WriteAllAsync(idle.Side, request, count, token);
            while (true)
            {
                await idle.Side.WaitReadableAsync(token);
                var read = await idle.Side.ReadAsync(buffer, SocketIo.BufferSize, token);
                if (read.End) break;
                if (read.Count > 0) return (buffer, read.Count);
            }
        }
        catch (Exception e) when (e is RelayException or SocketException or ObjectDisposedException ||
                                  e is OperationCanceledException && !_lifetime.IsCancellationRequested)
        {
            // Reset, broken or closed under us while idle, or silent for the idle timeout: not an answer.
        }
        catch
        {
            SocketIo.Return(buffer);
            throw;
        }

        SocketIo.Return(buffer);
        return null;
    }

    /// <summary>Writes <paramref name="count"/> bytes in the chunks the side takes at once.</summary>
    private static async ValueTask WriteAllAsync(IRelayFrontEnd side, byte[] data, int count, CancellationToken token)
    {
        if (count <= side.MaxWriteChunk)
        {
            if (count > 0) await side.WriteAsync(data, count, token);
            return;
        }

        byte[] chunk = SocketIo.Rent();
        try
        {
            for (var offset = 0; offset < count; offset += side.MaxWriteChunk)
            {
                var n = Math.Min(side.MaxWriteChunk, count - offset);
                data.AsSpan(offset, n).CopyTo(chunk);
                await side.WriteAsync(chunk, n, token);
            }
        }
        finally
        {
            SocketIo.Return(chunk);
        }
    }

    /// <summary>
    /// The node is draining. On an ssl-server that reads HTTP, the next request head read is the client's last: its
    /// answer carries <c>Connection: close</c> and the client is closed after it (a request already read is answered as
    /// it is). Under http-reuse a client waiting for a request is closed now (close_notify, then FIN), unless one is
    /// already there; one that has not sent its first request is given <see cref="GoAwayFirstRequestGrace"/> after its
    /// handshake, and one whose back-end connection is its own is closed with it once idle long enough to be released
    /// (<see cref="IdleRelease"/>). Without http-reuse, a client idle between two messages with every answer sent is
    /// closed the same way, with its back-end connection (<see cref="DrainRelease"/>). Layer-4 relays and tunnels end by
    /// themselves or at the drain's deadline.
    /// </summary>
    public void GoAway()
    {
        if (Interlocked.Exchange(ref _goingAway, 1) != 0) return;
        TellGoAway();
        // Taken, never disposed under us: the wait disposes its source only when it takes it back itself.
        Interlocked.Exchange(ref _idleWait, null)?.Cancel();
    }

    /// <summary>Tells the flow's HTTP exchange, if any, that the node drains: through its DrainRelease (an http-reuse flow has none). Idempotent.</summary>
    private void TellGoAway()
    {
        if (Volatile.Read(ref _drain) is { } drain) drain.GoAway();
        else Volatile.Read(ref _exchange)?.GoAway();
    }

    private bool GoingAway => Volatile.Read(ref _goingAway) != 0;

    /// <summary>Ends the connection now (drain deadline, kill): both sockets are closed with a reset, no close_notify.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        SocketIo.ResetOnAbort(_client, Volatile.Read(ref _backend));
        try
        {
            _lifetime.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }

        CloseSockets();
    }

    /// <summary>Same as <see cref="Abort"/>; a connection that already ended is unaffected.</summary>
    public void Dispose()
    {
        Abort();
        _lifetime.Dispose();
    }

    private bool IsAborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>The outcome of a refused client certificate, for the summary (counters by result and revocation method).</summary>
    private ClientAuthOutcome? _refusedClientAuth;

    /// <summary>The SNI choice: the selector's binding, its OpenSSL context (null refuses with unrecognized_name).</summary>
    private OpenSsl.SslContext? Select(string? serverName) => _selector(serverName)?.OpenSslContext();

    private async Task<(ProxyError Error, string Message, HandshakeInfo? Handshake)> HandshakeAsync(TlsSocketSide front)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        timeout.CancelAfter(_options.HandshakeTimeout);
        try
        {
            var status = await front.HandshakeAsync(timeout.Token);
            var ssl = front.Connection;
            if (status is null)
            {
                return front.BytesReceived == 0
                    ? (ProxyError.ClientClosedEmpty, EmptyMessage, null)
                    : (ProxyError.ClientHandshakeFailed, $"client closed the connection during the TLS handshake after {front.BytesReceived} bytes", null);
            }

            var chosen = ssl.SelectedContext?.Tag as TlsFrontEndBinding;
            if (status == OpenSsl.SslStatus.Ok && chosen is not null)
            {
                // No decision made although the ssl-server asks for certificates: the client sent none (ignore, redirect).
                var clientAuth = chosen.ClientAuth is not { } policy
                    ? ClientAuthOutcome.NotRequested
                    : ssl.ClientVerdict as ClientAuthOutcome ?? policy.Verify([]);
                if (clientAuth.Result == ClientAuthResult.Pending)
                {
                    // OCSP (or a distribution point's CRL) had no answer cached: the handshake went on, and nothing is
                    // forwarded until the answer is in (the question is bounded by its source's timeout, not by the
                    // handshake timeout: a slow responder is
                    // then "no answer", decided by the revocation order, never a handshake timeout). A refusal now ends
                    // the connection without an alert: OpenSSL sends none of our choosing after the handshake.
                    clientAuth = await chosen.ClientAuth!.ResolveAsync(clientAuth, _lifetime.Token);
                    if (chosen.ClientAuth.Refuses(clientAuth))
                    {
                        front.Fail();
                        _refusedClientAuth = clientAuth;
                        return (ProxyError.ClientCertificateRejected, $"client certificate refused ({clientAuth.Result}) after the handshake: {clientAuth.Reason}", null);
                    }
                }

                return (ProxyError.None, "", new HandshakeInfo(ssl.Version == 0x0304 ? TlsVersion.Tls13 : TlsVersion.Tls12, ssl.CipherSuite,
                    ssl.ServerName, ssl.Resumed, chosen.BindingKey, chosen.Tag, clientAuth)
                {
                    SessionId = ssl.Version == 0x0303 ? ssl.SessionIdHex : null,
                    // Under TLS 1.2 a resumption by ticket carries the ID the client chose: it identifies nothing of ours.
                    SessionIdentity = ssl.Version == 0x0303 && ssl.Resumed && ssl.TicketOpened ? null : ssl.SessionIdHex,
                    ApplicationProtocol = ssl.ApplicationProtocol,
                    ServerCertificate = ServerCertificateOf(chosen, ssl),
                    // Read once at accept by the observer's HandshakeStarted, so the socket answers from its cache.
                    Client = SafeRemoteEndPoint(_client) as System.Net.IPEndPoint,
                });
            }

            if (chosen?.ClientAuth is not null && (ssl.PeerRefused || ssl.PeerVerdict is null && ssl.Error?.Contains("peer did not return a certificate", StringComparison.Ordinal) == true))
            {
                var refused = ssl.PeerVerdict as ClientAuthOutcome ?? chosen.ClientAuth.Verify([]);
                _refusedClientAuth = refused;
                return (ProxyError.ClientCertificateRejected, $"client certificate refused ({refused.Result}), sent fatal alert " +
                    $"{(ssl.AlertSent >= 0 ? TlsSocketSide.AlertName(ssl.AlertSent) : "(none)")}: {refused.Reason}", null);
            }

            if (ssl.ServerNameRejected)
            {
                return (ProxyError.ClientServerNameRejected, $"no ssl-server for server name '{ssl.ServerName ?? "(none)"}': sent unrecognized_name", null);
            }

            return ssl.AlertReceived >= 0
                ? (ProxyError.ClientAlertReceived, $"client sent fatal alert {TlsSocketSide.AlertName(ssl.AlertReceived)} during the handshake", null)
                : (ProxyError.ClientHandshakeFailed, "TLS handshake failed" + (ssl.AlertSent >= 0 ? ", sent fatal alert " + TlsSocketSide.AlertName(ssl.AlertSent) : "") + ": " + ssl.Error, null);
        }
        catch (OperationCanceledException) when (IsAborted)
        {
            return (ProxyError.Aborted, "aborted during the TLS handshake", null);
        }
        catch (OperationCanceledException)
        {
            return (ProxyError.ClientHandshakeTimeout,
                $"client did not complete the TLS handshake within {_options.HandshakeTimeout.TotalSeconds:0.###} s", null);
        }
        catch (SocketException e)
        {
            return front.BytesReceived == 0
                ? (ProxyError.ClientClosedEmpty, EmptyMessage + " (reset: " + SocketIo.Describe(e) + ")", null)
                : (ProxyError.ClientReset, "client connection failed during the handshake: " + SocketIo.Describe(e), null);
        }
        catch (ObjectDisposedException) when (IsAborted)
        {
            return (ProxyError.Aborted, "aborted during the TLS handshake", null);
        }
    }

    /// <summary>A client that closed before its first byte: a port check (HAProxy's "null connection"), not a failed handshake.</summary>
    private const string EmptyMessage = "client closed the connection before sending anything (a port check)";

    /// <summary>
    /// The leaf the handshake sent. Of an ssl-server with both key types: under TLS 1.2 the one the suite names (ECDSA
    /// or RSA); under TLS 1.3 the one OpenSSL chose, known only in a full handshake (a resumption skips the choice, and
    /// sends no certificate): null then.
    /// </summary>
    private static byte[]? ServerCertificateOf(TlsFrontEndBinding chosen, OpenSsl.SslConnection ssl)
    {
        var credential = chosen.Credential;
        if (chosen.SecondCredential is { } second)
        {
            bool ec;
            if (ssl.Version == 0x0303)
            {
                ec = TlsCipherSuites.GetName(ssl.CipherSuite).Contains("_ECDSA_", StringComparison.Ordinal);
            }
            else if (ssl.Resumed)
            {
                return null;
            }
            else
            {
                ec = ssl.LocalCertificateIsEc;
            }

            credential = (second.KeyType == ServerKeyType.Ecdsa) == ec ? second : chosen.Credential;
        }

        return credential.ChainDer.Count > 0 ? credential.ChainDer[0] : null;
    }

    private void CloseSockets()
    {
        _client.Dispose();
        Volatile.Read(ref _backend)?.Link.Socket.Dispose();
    }

    /// <summary>The socket's peer, or null once the socket is closed or reset (asking throws then).</summary>
    public static System.Net.EndPoint? SafeRemoteEndPoint(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
