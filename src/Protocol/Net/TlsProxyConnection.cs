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
public sealed class TlsProxyConnection : IDisposable
{
    private readonly Socket _client;
    private readonly TlsEngine _engine;
    private readonly TlsBindingSelector _selector;
    private readonly Func<HandshakeInfo, CancellationToken, ValueTask<BackendLink>> _dialBackend;
    private readonly Func<HandshakeInfo, IRelayTransform?>? _transformFor;
    private readonly ProxyConnectionOptions _options;
    private readonly IConnectionObserver? _observer;
    private readonly CancellationTokenSource _lifetime = new();
    private int _started;
    private int _aborted;
    private BackendLeg? _backend;

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
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentNullException.ThrowIfNull(dialBackend);
        _options = options ?? new ProxyConnectionOptions();
        _options.Validate();
        _client = client;
        _engine = engine;
        _selector = selector;
        _dialBackend = dialBackend;
        _observer = observer;
        _transformFor = transformFor;
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
        ConnectionIds.Notify(_observer, o => o.HandshakeStarted(Id, SafeRemoteEndPoint(_client)));
        try
        {
            _client.NoDelay = true;
            front = new TlsSocketSide(_client, OpenSsl.SslConnection.CreateServer(_engine.Front, Select), _engine.Options.RequireClientCloseNotify);
            (error, message, var handshake) = await HandshakeAsync(front);
            handshakeEnd = Stopwatch.GetTimestamp();
            if (error == ProxyError.None && handshake!.ClientAuth?.RedirectUrl is { } failureUrl)
            {
                // Client authentication failed under 'failure redirect': answer here, never dial the backend.
                Handshake = handshake;
                ConnectionIds.Notify(_observer, o => o.HandshakeCompleted(Id, handshake));
                (error, message) = await ClientAuthRedirect.AnswerAsync(front, failureUrl, _options.HandshakeTimeout, _lifetime.Token);
            }
            else if (error == ProxyError.None)
            {
                Handshake = handshake!;
                ConnectionIds.Notify(_observer, o => o.HandshakeCompleted(Id, handshake!));

                dialled = true;
                BackendLeg? leg;
                (leg, error, message) = await BackendDialer.ConnectAsync(
                    ct => _dialBackend(handshake!, ct), _options, _lifetime.Token);
                Volatile.Write(ref _backend, leg);
                if (IsAborted)
                {
                    // An abort that ran while we were connecting could not see the leg: close it here.
                    leg?.Link.Socket.Dispose();
                }

                if (leg is null)
                {
                    if (error != ProxyError.Aborted)
                    {
                        // Tell the client it is not a clean end, never with close_notify.
                        front.Fail();
                    }
                }
                else
                {
                    var backendEndPoint = SafeRemoteEndPoint(leg.Link.Socket);
                    ConnectionIds.Notify(_observer, o => o.BackendConnected(Id, backendEndPoint));
                    var transform = _transformFor?.Invoke(handshake!);
                    try
                    {
                        relay = await RelayPump.RunAsync(front, leg.Side, _options.CloseLinger, transform, _lifetime.Token, leg.Link.IdleTimeout);
                    }
                    finally
                    {
                        // Both copy loops have ended: the transform's pooled buffers can go back.
                        (transform as IDisposable)?.Dispose();
                    }
                    (error, message) = (relay.Error, relay.Message);
                    if (error.CutsTheAnswer())
                    {
                        // The back end's TLS stream failed mid-answer: the client must see it failed too, not a clean end.
                        SocketIo.ResetOnClose(_client);
                    }
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
            CloseSockets();
            front?.Dispose();
            Volatile.Read(ref _backend)?.Dispose();
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
            Stopwatch.GetElapsedTime(start, end));
        ConnectionIds.Notify(_observer, o => o.Closed(Id, summary));
        return summary;
    }

    /// <summary>Ends the connection now (drain deadline, kill): both sockets are closed, no close_notify.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

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
                return (ProxyError.ClientHandshakeFailed, $"client closed the connection during the TLS handshake after {front.BytesReceived} bytes", null);
            }

            var chosen = ssl.SelectedContext?.Tag as TlsFrontEndBinding;
            if (status == OpenSsl.SslStatus.Ok && chosen is not null)
            {
                // No decision made although the ssl-server asks for certificates: the client sent none (ignore, redirect).
                var clientAuth = chosen.ClientAuth is not { } policy
                    ? ClientAuthOutcome.NotRequested
                    : ssl.ClientVerdict as ClientAuthOutcome ?? policy.Verify([]);
                return (ProxyError.None, "", new HandshakeInfo(ssl.Version == 0x0304 ? TlsVersion.Tls13 : TlsVersion.Tls12, ssl.CipherSuite,
                    ssl.ServerName, ssl.Resumed, chosen.BindingKey, chosen.Tag, clientAuth)
                {
                    SessionId = ssl.Version == 0x0303 ? ssl.SessionIdHex : null,
                    ApplicationProtocol = ssl.ApplicationProtocol,
                });
            }

            if (chosen?.ClientAuth is not null && (ssl.PeerRefused || ssl.PeerVerdict is null && ssl.Error?.Contains("peer did not return a certificate", StringComparison.Ordinal) == true))
            {
                var refused = ssl.PeerVerdict as ClientAuthOutcome ?? chosen.ClientAuth.Verify([]);
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
            return (ProxyError.ClientReset, "client connection failed during the handshake: " + SocketIo.Describe(e), null);
        }
        catch (ObjectDisposedException) when (IsAborted)
        {
            return (ProxyError.Aborted, "aborted during the TLS handshake", null);
        }
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
