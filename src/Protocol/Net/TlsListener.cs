using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>
/// A minimal TLS offload host: accepts on an endpoint and runs a <see cref="TlsProxyConnection"/> per socket.
/// Used by tests and benchmarks; the node's listeners add dispatching, drains and counters around the same parts.
/// </summary>
public sealed class TlsListener : IAsyncDisposable
{
    private readonly TlsEngine _engine;
    private readonly TlsBindingSelector _selector;
    private readonly Func<HandshakeInfo, CancellationToken, ValueTask<Socket>> _dialBackend;
    private readonly ProxyConnectionOptions _options;
    private readonly IConnectionObserver? _observer;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, (TlsProxyConnection Connection, Task Run)> _connections = new();
    private Task? _acceptLoop;
    private long _accepted;

    /// <summary>Binds and listens on <paramref name="endPoint"/> (port 0 picks a free port).</summary>
    public TlsListener(IPEndPoint endPoint, TlsEngine engine, TlsBindingSelector selector,
        Func<HandshakeInfo, CancellationToken, ValueTask<Socket>> dialBackend, ProxyConnectionOptions? options = null,
        IConnectionObserver? observer = null, int backlog = 1024)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentNullException.ThrowIfNull(dialBackend);
        _engine = engine;
        _selector = selector;
        _dialBackend = dialBackend;
        _options = options ?? new ProxyConnectionOptions();
        _options.Validate();
        _observer = observer;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.Bind(endPoint);
            _socket.Listen(backlog);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    /// <summary>The bound endpoint (with the real port).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Connections running now.</summary>
    public int ActiveConnections => _connections.Count;

    /// <summary>Connections accepted since start.</summary>
    public long AcceptedConnections => Interlocked.Read(ref _accepted);

    /// <summary>Starts accepting in the background.</summary>
    public void Start()
    {
        if (_acceptLoop is not null)
        {
            throw new InvalidOperationException("The listener is already started.");
        }

        // On the thread pool, away from any caller's SynchronizationContext (a UI or test framework context would
        // otherwise carry every continuation of every connection: the library does not use ConfigureAwait).
        _acceptLoop = Task.Run(() => AcceptLoopAsync(_stop.Token));
    }

    /// <summary>
    /// Stops accepting; with <paramref name="abortConnections"/> also aborts running connections. Waits for all
    /// connections to end either way (a drain without abort waits for clients and backends to finish).
    /// </summary>
    public async Task StopAsync(bool abortConnections)
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        if (abortConnections)
        {
            foreach (var entry in _connections.Values)
            {
                entry.Connection.Abort();
            }
        }

        await Task.WhenAll(_connections.Values.Select(v => v.Run));
    }

    /// <summary>Stops and aborts everything.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(abortConnections: true);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection that died in the backlog (reset before accept): keep accepting.
                continue;
            }

            Interlocked.Increment(ref _accepted);
            var connection = new TlsProxyConnection(client, _engine, _selector, _dialBackend, _options, _observer);
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var run = Task.Run(() => RunAsync(connection, started.Task));
            _connections[connection.Id] = (connection, run);
            started.SetResult();
        }
    }

    private async Task RunAsync(TlsProxyConnection connection, Task registered)
    {
        // Started on the pool so one slow handshake step never delays the accept loop; runs only once registered
        // so the removal below cannot precede the insertion.
        await registered;
        try
        {
            await connection.RunAsync();
        }
        finally
        {
            _connections.TryRemove(connection.Id, out _);
            connection.Dispose();
        }
    }
}
