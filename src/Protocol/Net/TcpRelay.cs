using System.Diagnostics;
using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>
/// A clear-text connection for content rules without TLS: dial the destination at once, then the same copy loops
/// and half-close rules as <see cref="TlsProxyConnection"/> (see <see cref="RelayPump"/>). The observer gets
/// <see cref="IConnectionObserver.BackendConnected"/> and <see cref="IConnectionObserver.Closed"/> only.
/// </summary>
public sealed class TcpRelay : IDisposable, IAbortable
{
    private readonly Socket _client;
    private readonly Func<CancellationToken, ValueTask<BackendLink>> _dialBackend;
    private readonly ProxyConnectionOptions _options;
    private readonly IConnectionObserver? _observer;
    private readonly CancellationTokenSource _lifetime = new();
    private int _started;
    private int _aborted;
    private BackendLeg? _backend;
    private readonly IRelayTransform? _transform;
    // With an HTTP transform (header insertion, or a flow judged HTTP by its first bytes): what a drain ends between two
    // messages (see DrainRelease).
    private readonly DrainRelease? _drain;

    /// <summary>Creates the relay; the client socket and the dialled backend socket are owned by it.</summary>
    public TcpRelay(Socket client, Func<CancellationToken, ValueTask<Socket>> dialBackend,
        ProxyConnectionOptions? options = null, IConnectionObserver? observer = null)
        : this(client, Plain(dialBackend), options, observer)
    {
    }

    /// <summary>Creates a relay whose dial may ask for TLS towards the real server (SSL initiation).</summary>
    /// <param name="transform">
    /// What the relay does to the clear text (header insertion; or framing only, for a drain), or null to pass it as it is.
    /// </param>
    public TcpRelay(Socket client, Func<CancellationToken, ValueTask<BackendLink>> dialBackend,
        ProxyConnectionOptions? options, IConnectionObserver? observer, IRelayTransform? transform = null)
    {
        _transform = transform;
        _drain = transform is IDrainableFlow flow ? new DrainRelease(flow) : null;
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(dialBackend);
        _options = options ?? new ProxyConnectionOptions();
        _options.Validate();
        _client = client;
        _dialBackend = dialBackend;
        _observer = observer;
        Id = ConnectionIds.Next();
    }

    /// <summary>Process-unique id, as given to the observer.</summary>
    public long Id { get; }

    private static Func<CancellationToken, ValueTask<BackendLink>> Plain(Func<CancellationToken, ValueTask<Socket>> dial)
    {
        ArgumentNullException.ThrowIfNull(dial);
        return async ct => new BackendLink(await dial(ct));
    }

    /// <summary>Runs to the end; never throws for client, backend or abort events.</summary>
    public async Task<ConnectionSummary> RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync can only be called once per connection.");
        }

        long start = Stopwatch.GetTimestamp();
        ProxyError error;
        string message;
        RelayState? relay = null;
        var front = new TcpFrontEnd(_client, epollWaits: _options.EpollSocketWaits);
        ConnectionIds.Notify(_observer, (Id, front), static (o, s) => o.ClientSideOpened(s.Id, s.front));
        using var registration = cancellationToken.Register(Abort);
        try
        {
            _client.NoDelay = true;
            BackendLeg? leg;
            (leg, error, message) = await BackendDialer.ConnectAsync(_dialBackend, _options, _lifetime.Token);
            Volatile.Write(ref _backend, leg);
            if (IsAborted)
            {
                // An abort that ran while we were connecting could not see the leg: close it here.
                leg?.Link.Socket.Dispose();
            }

            if (leg is not null)
            {
                var backendEndPoint = TlsProxyConnection.SafeRemoteEndPoint(leg.Link.Socket);
                ConnectionIds.Notify(_observer, (Id, backendEndPoint), static (o, s) => o.BackendConnected(s.Id, s.backendEndPoint));
                relay = _drain is null
                    ? await RelayPump.RunAsync(front, leg.Side, _options.CloseLinger, _transform, _lifetime.Token)
                    : await _drain.RelayAsync(front, leg.Side, _options.CloseLinger, _lifetime.Token);
                (error, message) = (relay.Error, relay.Message);
                if (relay.Released)
                {
                    // A drain ended it between two messages: the client had its FIN, the back-end connection is closed below.
                    message = _drain!.ClosedMessage;
                }
                else if (error.CutsTheAnswer())
                {
                    SocketIo.ResetOnClose(_client);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException && IsAborted)
        {
            error = ProxyError.Aborted;
            message = "";
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
            front.Dispose();
            Volatile.Read(ref _backend)?.Dispose();
            _client.Dispose();
            // The transform's pooled buffers go back when the relay is over.
            (_transform as IDisposable)?.Dispose();
        }

        if (IsAborted && error == ProxyError.None)
        {
            error = ProxyError.Aborted;
        }

        if (message.Length == 0)
        {
            message = error.Describe();
        }

        var summary = new ConnectionSummary(Id, error, message, null, true, relay?.ClientToBackend ?? 0,
            relay?.BackendToClient ?? 0, relay?.Discarded ?? 0, front.BytesReceived, front.BytesSent,
            TimeSpan.Zero, Stopwatch.GetElapsedTime(start));
        ConnectionIds.Notify(_observer, (Id, summary), static (o, s) => o.Closed(s.Id, s.summary));
        return summary;
    }

    /// <summary>Ends the relay now: both sockets closed with a reset.</summary>
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

        _client.Dispose();
        Volatile.Read(ref _backend)?.Link.Socket.Dispose();
    }

    /// <summary>
    /// With an HTTP transform (an SSLM client service's header insertion, or a client whose first bytes were a request
    /// line), the next request head read is the client's last: its answer carries <c>Connection: close</c>, and the relay
    /// ends after it; a client idle between two messages with every answer sent is closed now (<see cref="DrainRelease"/>).
    /// A relay that passes its bytes as they are has no point where the client would lose nothing: it ends when either
    /// side closes, or at the drain's deadline.
    /// </summary>
    public void GoAway() => _drain?.GoAway();

    /// <summary>Same as <see cref="Abort"/>.</summary>
    public void Dispose()
    {
        Abort();
        _lifetime.Dispose();
    }

    private bool IsAborted => Volatile.Read(ref _aborted) != 0;
}
