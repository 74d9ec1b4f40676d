using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SslCluster.TestSupport;

/// <summary>
/// Base of the tiny test backends: accepts on 127.0.0.1 (free port) and runs a handler per connection until
/// disposed. Counts connections so tests can assert that no backend connection was made.
/// </summary>
public abstract class LoopbackServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _handlers = [];
    private readonly Task _acceptLoop;
    private int _connections;

    protected LoopbackServer()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(2048);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Where the backend listens (127.0.0.1).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>A dial function for the proxy: a new connected socket to this backend.</summary>
    public async ValueTask<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(EndPoint, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        try
        {
            await Task.WhenAll(_handlers).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is TimeoutException or SocketException or OperationCanceledException)
        {
            // Handlers blocked on a client that never closes are abandoned with the test.
        }

        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Serves one accepted connection; the socket is disposed afterwards.</summary>
    protected abstract Task HandleAsync(Socket socket, CancellationToken cancellationToken);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _handlers.Add(Task.Run(async () =>
            {
                using (socket)
                {
                    try
                    {
                        await HandleAsync(socket, _stop.Token);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException
                        or ObjectDisposedException)
                    {
                        // A test client that vanished; nothing to report from a test backend.
                    }
                }
            }));
        }
    }
}
