using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>Byte counts and the first error of a relay, filled by its two loops.</summary>
internal sealed class RelayState
{
    private int _errorSet;

    public ProxyError Error { get; private set; }

    public string Message { get; private set; } = "";

    public long ClientToBackend;
    public long BackendToClient;

    /// <summary>When a byte last arrived from either side (Stopwatch ticks), for the idle timeout.</summary>
    public long LastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
    public long Discarded;
    public bool BackendEnded;

    /// <summary>Keeps the first error only: later ones are consequences of it.</summary>
    public bool TrySetError(ProxyError error, string message)
    {
        if (Interlocked.Exchange(ref _errorSet, 1) != 0)
        {
            return false;
        }

        Error = error;
        Message = message;
        return true;
    }
}

/// <summary>
/// The two bounded copy loops of a connection, shared by TLS and plain TCP (hitch's two rings, one per direction).
/// <code>
///   client --(front end: TLS records or TCP)--> ClientToBackend --> backend socket
///   client <--(front end)-- BackendToClient <-- backend socket
/// </code>
/// Back-pressure: each loop awaits its send before its next receive, and holds at most one pooled 16 KiB buffer
/// at a time (none while waiting for data: zero-byte reads). Half-close per side:
/// <list type="number">
/// <item>Client finished (EOF or close_notify): FIN to the backend; the backend keeps answering until it closes,
/// then we close towards the client. If the client can no longer be written to (TLS 1.2 close_notify, which
/// we answer at once as RFC 5246 demands), backend data is discarded and counted, and the backend gets
/// <see cref="ProxyConnectionOptions.CloseLinger"/> to close.</item>
/// <item>Backend finished (EOF): close_notify and FIN to the client; the client gets the linger to close too.</item>
/// <item>Any error: the first one is kept, both loops stop, the caller closes both sockets without close_notify (a
/// truncated response must look truncated to the client).</item>
/// </list>
/// </summary>
internal static class RelayPump
{
    /// <summary>
    /// Relays between the client and the back end, either of them plain or TLS. <paramref name="transform"/>, when
    /// given, sees the client's bytes and rewrites the back end's (URL rewrite).
    /// </summary>
    public static async Task<RelayState> RunAsync(IRelayFrontEnd front, IRelayFrontEnd backend, TimeSpan closeLinger,
        IRelayTransform? transform, CancellationToken cancellationToken, TimeSpan idleTimeout = default)
    {
        var state = new RelayState();
        using var relay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clientToBackend = ClientToBackendAsync(front, backend, transform, state, relay);
        var backendToClient = BackendToClientAsync(front, backend, transform, state, relay);
        using var watchdogStop = new CancellationTokenSource();
        var watchdog = idleTimeout > TimeSpan.Zero ? WatchIdleAsync(state, idleTimeout, relay, watchdogStop.Token) : Task.CompletedTask;
        try
        {
            await RelayAsync(clientToBackend, backendToClient, front, closeLinger, state, relay);
        }
        finally
        {
            await watchdogStop.CancelAsync();
            await watchdog;
        }
        return state;
    }

    /// <summary>
    /// Closes an established flow in which no byte arrived from either side for <paramref name="idleTimeout"/>: one
    /// timer per flow, and only for flows whose ssl-server sets an idle timeout.
    /// </summary>
    private static async Task WatchIdleAsync(RelayState state, TimeSpan idleTimeout, CancellationTokenSource relay, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                var idleFor = System.Diagnostics.Stopwatch.GetElapsedTime(Volatile.Read(ref state.LastActivity));
                if (idleFor >= idleTimeout)
                {
                    if (state.TrySetError(ProxyError.IdleTimeout, $"no data in either direction for {idleTimeout.TotalSeconds:0} s (ssl-server idle timeout)"))
                        await relay.CancelAsync();
                    return;
                }
                await Task.Delay(idleTimeout - idleFor, stop);
            }
        }
        catch (OperationCanceledException)
        {
            // The relay ended first.
        }
    }

    private static async Task RelayAsync(Task clientToBackend, Task backendToClient, IRelayFrontEnd front, TimeSpan closeLinger,
        RelayState state, CancellationTokenSource relay)
    {
        var first = await Task.WhenAny(clientToBackend, backendToClient);
        var other = first == clientToBackend ? backendToClient : clientToBackend;
        if (state.Error != ProxyError.None)
        {
            await relay.CancelAsync();
        }
        else if (first == backendToClient || !front.CanWrite)
        {
            // The exchange is over from our side: give the other side a bounded time to close.
            try
            {
                await other.WaitAsync(closeLinger, relay.Token);
            }
            catch (TimeoutException)
            {
                await relay.CancelAsync();
            }
            catch (OperationCanceledException)
            {
                // Aborted from outside; the caller reports it.
            }
        }

        await other;
    }

    private static async Task ClientToBackendAsync(IRelayFrontEnd front, IRelayFrontEnd backend, IRelayTransform? transform,
        RelayState state, CancellationTokenSource relay)
    {
        var token = relay.Token;
        try
        {
            while (true)
            {
                await front.WaitReadableAsync(token);
                byte[] buffer = SocketIo.Rent();
                try
                {
                    var read = await front.ReadAsync(buffer, backend.MaxWriteChunk, token);
                    Volatile.Write(ref state.LastActivity, System.Diagnostics.Stopwatch.GetTimestamp());
                    if (read.End)
                    {
                        break;
                    }

                    if (read.Count > 0)
                    {
                        transform?.ObserveRequest(buffer.AsSpan(0, read.Count));
                        if (await backend.WriteAsync(buffer, read.Count, token))
                        {
                            Interlocked.Add(ref state.ClientToBackend, read.Count);
                        }
                        else
                        {
                            // A TLS back end that already closed (TLS 1.2 close_notify) takes nothing more.
                            Interlocked.Add(ref state.Discarded, read.Count);
                        }
                    }
                }
                finally
                {
                    SocketIo.Return(buffer);
                }
            }

            // The client has finished sending: pass the half-close on (close_notify first for a TLS back end).
            await backend.CloseWriteAsync(token);
        }
        catch (RelayException e) when (e.Error is ProxyError.BackendReset or ProxyError.ClientReset && Volatile.Read(ref state.BackendEnded))
        {
            // The backend closed entirely after answering, and the client has had the whole answer and our close:
            // a backend reset now is about data with nowhere to go, a client reset (curl closing with unread bytes,
            // or without waiting for our FIN) is the client hanging up after a complete exchange.
        }
        catch (RelayException e)
        {
            if (state.TrySetError(e.Error, e.Message))
            {
                await relay.CancelAsync();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // Stopped by the other loop, the linger or an abort.
        }
    }

    private static async Task BackendToClientAsync(IRelayFrontEnd front, IRelayFrontEnd backend, IRelayTransform? transform,
        RelayState state, CancellationTokenSource relay)
    {
        var token = relay.Token;
        var output = transform is null ? null : new RelayOutput();
        try
        {
            while (true)
            {
                await backend.WaitReadableAsync(token);
                byte[] buffer = SocketIo.Rent();
                try
                {
                    var read = await backend.ReadAsync(buffer, front.MaxWriteChunk, token);
                    Volatile.Write(ref state.LastActivity, System.Diagnostics.Stopwatch.GetTimestamp());
                    if (read.End)
                    {
                        break;
                    }

                    if (output is not null)
                    {
                        transform!.Process(buffer.AsSpan(0, read.Count), output);
                        await DeliverAsync(front, output, state, token);
                    }
                    else if (read.Count > 0)
                    {
                        await DeliverAsync(front, buffer, read.Count, state, token);
                    }
                }
                finally
                {
                    SocketIo.Return(buffer);
                }
            }

            if (output is not null)
            {
                transform!.Complete(output);
                await DeliverAsync(front, output, state, token);
            }

            Volatile.Write(ref state.BackendEnded, true);
            await front.CloseWriteAsync(token);
        }
        catch (RelayException e) when (e.Error == ProxyError.ClientReset && front.InputEnded)
        {
            // The client said it was done and then went away while the backend was still talking: a normal end
            // for the client, the rest of the backend's answer is simply not wanted.
        }
        catch (RelayException e)
        {
            if (state.TrySetError(e.Error, e.Message))
            {
                await relay.CancelAsync();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // Stopped by the other loop, the linger or an abort.
        }
    }

    private static async ValueTask DeliverAsync(IRelayFrontEnd front, byte[] buffer, int count, RelayState state,
        CancellationToken token)
    {
        if (front.CanWrite && await front.WriteAsync(buffer, count, token))
        {
            Interlocked.Add(ref state.BackendToClient, count);
        }
        else
        {
            Interlocked.Add(ref state.Discarded, count);
        }
    }

    /// <summary>Sends what a transform released, in chunks the client side takes at once.</summary>
    private static async ValueTask DeliverAsync(IRelayFrontEnd front, RelayOutput output, RelayState state,
        CancellationToken token)
    {
        while (output.Count > 0)
        {
            int n = Math.Min(output.Count, front.MaxWriteChunk);
            byte[] chunk = SocketIo.Rent();
            try
            {
                output.Take(chunk, n);
                await DeliverAsync(front, chunk, n, state, token);
            }
            finally
            {
                SocketIo.Return(chunk);
            }
        }
    }
}
