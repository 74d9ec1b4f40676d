using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace SslCluster.Protocol.Net;

/// <summary>Byte counts and the first error of a relay, filled by its two loops.</summary>
internal sealed class RelayState
{
    private int _errorSet;

    public ProxyError Error { get; private set; }

    public string Message { get; private set; } = "";

    public long ClientToBackend;
    public long BackendToClient;

    /// <summary>When a byte last arrived from either side (Stopwatch ticks), for the idle timeout and the idle release.</summary>
    public long LastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
    public long Discarded;
    public bool BackendEnded;

    /// <summary>The response loop waits for the back end's next bytes, everything it had sent (for the release).</summary>
    public bool BackendParked;

    /// <summary>
    /// The exchange ended with the back-end connection left open between two messages (its transform owns it for
    /// re-use): nothing was sent to end it, and the caller decides whether it serves another client.
    /// </summary>
    public bool BackendKept;

    /// <summary>
    /// Client bytes were being turned into back-end bytes or sent when the loop stopped: the back end may have had
    /// part of a request, so its connection is not fit for another client.
    /// </summary>
    public bool ForwardInFlight;

    /// <summary>
    /// The relay was stopped between two requests of a keep-alive client with every answer sent (release mode, see
    /// <see cref="IdleRelease"/>): the client's connection goes on, and the back-end connection may serve another
    /// request (the caller checks it once more).
    /// </summary>
    public bool Released;

    /// <summary>Where the client-to-backend loop is, for the release (<see cref="IdleRelease"/>'s ClientActive, ClientParked, ClientReleased).</summary>
    public int ClientPhase;

    /// <summary>Adds the byte counts of one relay of the same client connection (one per back-end connection under http-reuse).</summary>
    public void Add(RelayState run)
    {
        ClientToBackend += run.ClientToBackend;
        BackendToClient += run.BackendToClient;
        Discarded += run.Discarded;
    }

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
/// at a time (none while waiting for data: zero-byte reads; only a side whose last read filled its buffer, a transfer in
/// full flow, reads at once and may wait holding it, and a TLS side's receive buffer with it). Half-close per side:
/// <list type="number">
/// <item>Client finished (EOF or close_notify): FIN to the backend; the backend keeps answering until it closes,
/// then we close towards the client. If the client can no longer be written to (TLS 1.2 close_notify, which
/// we answer at once as RFC 5246 demands), backend data is discarded and counted, and the backend gets
/// <see cref="ProxyConnectionOptions.CloseLinger"/> to close.</item>
/// <item>Backend finished (EOF): close_notify and FIN to the client; the client gets the linger to close too.</item>
/// <item>Any error: the first one is kept, both loops stop, the caller closes both sockets without close_notify (a
/// truncated response must look truncated to the client).</item>
/// </list>
/// In release mode (a keep-alive client under <c>http-reuse</c>; any other flow with an HTTP transform, for a drain,
/// including one judged by its first bytes that turned out not to be HTTP) the relay can also
/// be stopped from outside, leaving both connections open, once the client is idle between two messages with every
/// answer sent (<see cref="IdleRelease"/>).
/// </summary>
internal static class RelayPump
{
    /// <summary>
    /// Relays between the client and the back end, either of them plain or TLS. <paramref name="transform"/>, when
    /// given, sees the client's bytes and rewrites the back end's (URL rewrite).
    /// </summary>
    /// <param name="started">
    /// What happened before the loops (back-end connection re-use): the client's bytes already forwarded, and the
    /// back end's first answer bytes, read but not yet given to the transform.
    /// </param>
    /// <param name="release">
    /// Release mode: the transform is this exchange, and the relay ends with <see cref="RelayState.Released"/> when a
    /// sweep finds its client idle between two messages.
    /// </param>
    /// <param name="releases">Where a relay in release mode is kept while it runs, for the sweep (the ssl-server's pool, or the flow's <see cref="DrainRelease"/>).</param>
    public static async Task<RelayState> RunAsync(IRelayFrontEnd front, IRelayFrontEnd backend, TimeSpan closeLinger,
        IRelayTransform? transform, CancellationToken cancellationToken, TimeSpan idleTimeout = default,
        (long Forwarded, byte[] Answer, int AnswerCount)? started = null, IDrainableFlow? release = null,
        IIdleReleases? releases = null)
    {
        if (release is not null && (!ReferenceEquals(release, transform) || releases is null))
        {
            throw new ArgumentException("release mode needs the exchange as the transform, and the releases to be kept in", nameof(release));
        }

        var state = new RelayState();
        if (started is { } s) state.ClientToBackend = s.Forwarded;
        using var relay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Stops only the wait for the back end's next bytes: when the client ends an exchange that owes it nothing.
        using var backendWait = CancellationTokenSource.CreateLinkedTokenSource(relay.Token);
        // Stops only the parked client loop's wait for bytes: the release. Cancelled with the relay by a registration on
        // it rather than linked to it: a cancelled socket wait stays in the socket's queue, with its registration, until
        // the client's next bytes come, and a linked source would keep the relay's source with it while the client idles.
        using var clientWait = release is null ? null : new CancellationTokenSource();
        using var clientWaitLink = clientWait is null ? default : relay.Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), clientWait);
        var releasing = release is null ? null : new IdleRelease(release, state, clientWait!, backendWait);
        if (releasing is not null) releases!.Add(releasing);
        try
        {
            return await RunLoopsAsync(front, backend, closeLinger, transform, idleTimeout, started, state, relay, backendWait, releasing);
        }
        finally
        {
            if (releasing is not null)
            {
                releases!.Remove(releasing);
                releasing.Finish();
            }
        }
    }

    private static async Task<RelayState> RunLoopsAsync(IRelayFrontEnd front, IRelayFrontEnd backend, TimeSpan closeLinger,
        IRelayTransform? transform, TimeSpan idleTimeout, (long Forwarded, byte[] Answer, int AnswerCount)? started,
        RelayState state, CancellationTokenSource relay, CancellationTokenSource backendWait, IdleRelease? releasing)
    {
        var clientToBackend = ClientToBackendAsync(front, backend, transform, state, relay, backendWait, releasing);
        var backendToClient = BackendToClientAsync(front, backend, transform, state, relay, backendWait.Token,
            started is { AnswerCount: > 0 } first ? (first.Answer, first.AnswerCount) : null);
        if (idleTimeout <= TimeSpan.Zero)
        {
            await RelayAsync(clientToBackend, backendToClient, front, closeLinger, state, relay);
            return state;
        }

        using var watchdogStop = new CancellationTokenSource();
        var watchdog = WatchIdleAsync(state, idleTimeout, relay, watchdogStop.Token);
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
        if (state.Error != ProxyError.None || first.IsFaulted)
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
        // The loops catch every failure they expect; anything else is a defect, and must end the connection as one
        // (InternalError in its summary), never pass for a clean end because the other loop then ended cleanly.
        await first;
    }

    /// <summary>
    /// The client loop's wait for bytes in release mode: marked parked when every request read is whole and forwarded,
    /// so that a sweep may release the relay meanwhile. True when it was released: nothing was read, and the loop ends.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> ParkAsync(IRelayFrontEnd front, RelayState state, IdleRelease releasing, CancellationToken token)
    {
        if (releasing.Exchange.BetweenMessages) Volatile.Write(ref state.ClientPhase, IdleRelease.ClientParked);
        try
        {
            await front.WaitReadableAsync(releasing.ClientWait);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return true;
        }

        // Bytes came: unless the release won the race (then they wait for the next exchange), read them.
        return Interlocked.CompareExchange(ref state.ClientPhase, IdleRelease.ClientActive, IdleRelease.ClientParked) == IdleRelease.ClientReleased;
    }

    /// <summary>
    /// After our close (close_notify then FIN, or FIN): reads and drops what the client still sends until its end, or for
    /// at most <paramref name="linger"/>, so that the socket is not closed with bytes unread (a reset, which can destroy
    /// what we sent last before the client has read it). Never throws.
    /// </summary>
    internal static async Task LingerAsync(IRelayFrontEnd front, TimeSpan linger, CancellationToken token)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(token);
        bounded.CancelAfter(linger);
        try
        {
            await DiscardClientBytesAsync(front, bounded.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or RelayException)
        {
            // The linger ran out, the connection was aborted, or the client reset it: the close is done either way.
        }
    }

    private static async Task DiscardClientBytesAsync(IRelayFrontEnd front, CancellationToken token)
    {
        byte[] buffer = SocketIo.Rent();
        try
        {
            while (true)
            {
                await front.WaitReadableAsync(token);
                if ((await front.ReadAsync(buffer, SocketIo.BufferSize, token)).End) return;
            }
        }
        finally
        {
            SocketIo.Return(buffer);
        }
    }

    private static async Task ClientToBackendAsync(IRelayFrontEnd front, IRelayFrontEnd backend, IRelayTransform? transform,
        RelayState state, CancellationTokenSource relay, CancellationTokenSource backendWait, IdleRelease? releasing)
    {
        var token = relay.Token;
        using var output = transform is null ? null : new RelayOutput();
        try
        {
            // A request refused before the relay started (read with the first one) ends the client's sending at once.
            while (transform?.RequestsRefused != true)
            {
                if (releasing is null) await front.WaitReadableAsync(token);
                else if (await ParkAsync(front, state, releasing, token)) return;
                byte[] buffer = SocketIo.Rent();
                try
                {
                    var read = await front.ReadAsync(buffer, backend.MaxWriteChunk, token);
                    // A read that found nothing (a stale wake, a record without data) is no activity: it must not put
                    // off the idle timeout or the release.
                    if (read.Count > 0 || read.End) Volatile.Write(ref state.LastActivity, System.Diagnostics.Stopwatch.GetTimestamp());
                    if (read.End)
                    {
                        break;
                    }

                    if (output is not null)
                    {
                        Volatile.Write(ref state.ForwardInFlight, true);
                        output.Begin(buffer);
                        transform!.ProcessRequest(buffer.AsSpan(0, read.Count), output);
                        await SendOutputAsync(backend, buffer, output, state, toClient: false, token);
                        Volatile.Write(ref state.ForwardInFlight, false);
                    }
                    else if (read.Count > 0)
                    {
                        await SendAsync(backend, buffer, read.Count, state, toClient: false, token);
                    }
                }
                finally
                {
                    SocketIo.Return(buffer);
                }
            }

            if (output is not null && transform?.RequestsRefused != true)
            {
                // What the client left of a message it did not finish goes on before its end, as at layer 4.
                transform!.CompleteRequests(output);
                if (output.Count > 0) await SendOutputAsync(backend, null, output, state, toClient: false, token);
            }

            switch (transform?.EndRequests() ?? Http.RequestEnd.HalfClose)
            {
                case Http.RequestEnd.HalfClose:
                    // The client has finished sending: pass the half-close on (close_notify first for a TLS back end).
                    await backend.CloseWriteAsync(token);
                    break;
                case Http.RequestEnd.Finished:
                    // Every request is answered: the back end owes nothing, so stop waiting for it and keep it open.
                    await backendWait.CancelAsync();
                    break;
                default:
                    // The answers still owed end the exchange (the response loop sees the last one go out).
                    break;
            }

            if (transform?.RequestsRefused == true)
            {
                // The back end answers what came before the refused bytes, then closes. Whatever the client sends
                // meanwhile is read and dropped, so that unread bytes cannot turn our close into a reset that would
                // destroy those answers on their way.
                await DiscardClientBytesAsync(front, token);
            }
        }
        catch (RelayException e) when ((e.Error is ProxyError.BackendReset or ProxyError.ClientReset && Volatile.Read(ref state.BackendEnded)) ||
                                       (e.Error is ProxyError.ClientReset && Volatile.Read(ref state.BackendKept)))
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
        RelayState state, CancellationTokenSource relay, CancellationToken backendWait, (byte[] Buffer, int Count)? first)
    {
        var token = relay.Token;
        using var output = transform is null ? null : new RelayOutput();
        try
        {
            if (first is { } answer)
            {
                try
                {
                    if (await ForwardAnswerAsync(front, transform, output, answer.Buffer, answer.Count, state, token))
                    {
                        Volatile.Write(ref state.BackendKept, true);
                    }
                }
                finally
                {
                    // Read before the loops started; an idle connection must not keep it.
                    SocketIo.Return(answer.Buffer);
                }
            }

            while (!Volatile.Read(ref state.BackendKept))
            {
                byte[]? buffer = null;
                FrontEndRead read;
                try
                {
                    // The read as well as the wait: a wait can end with nothing to read after all, and the read must
                    // then stop like the wait when the client ends an exchange that owes it nothing.
                    Volatile.Write(ref state.BackendParked, true);
                    await backend.WaitReadableAsync(backendWait);
                    buffer = SocketIo.Rent();
                    read = await backend.ReadAsync(buffer, front.MaxWriteChunk, backendWait);
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    // The client ended an exchange that owed it nothing, or the relay was released: the back-end
                    // connection stays as it is.
                    if (buffer is not null) SocketIo.Return(buffer);
                    Volatile.Write(ref state.BackendKept, true);
                    break;
                }
                catch
                {
                    if (buffer is not null) SocketIo.Return(buffer);
                    throw;
                }
                finally
                {
                    Volatile.Write(ref state.BackendParked, false);
                }

                try
                {
                    if (read.Count > 0 || read.End) Volatile.Write(ref state.LastActivity, System.Diagnostics.Stopwatch.GetTimestamp());
                    if (read.End)
                    {
                        break;
                    }

                    if (await ForwardAnswerAsync(front, transform, output, buffer, read.Count, state, token))
                    {
                        // The last answer owed went out: close the client's side, keep the back end's.
                        Volatile.Write(ref state.BackendKept, true);
                        break;
                    }
                }
                finally
                {
                    SocketIo.Return(buffer);
                }
            }

            if (!Volatile.Read(ref state.BackendKept))
            {
                if (output is not null)
                {
                    transform!.Complete(output);
                    await SendOutputAsync(front, null, output, state, toClient: true, token);
                }

                Volatile.Write(ref state.BackendEnded, true);
            }

            if (Volatile.Read(ref state.Released))
            {
                // Released: the caller decides (the client's next request over another relay, or a drain's close).
                return;
            }

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

    /// <summary>
    /// Passes <paramref name="count"/> bytes the back end sent (read into <paramref name="buffer"/>) to the client, through
    /// the transform when there is one. True when they ended the last answer owed (the exchange is over).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> ForwardAnswerAsync(IRelayFrontEnd front, IRelayTransform? transform, RelayOutput? output,
        byte[] buffer, int count, RelayState state, CancellationToken token)
    {
        if (output is null)
        {
            if (count > 0) await SendAsync(front, buffer, count, state, toClient: true, token);
            return false;
        }

        output.Begin(buffer);
        transform!.Process(buffer.AsSpan(0, count), output);
        await SendOutputAsync(front, buffer, output, state, toClient: true, token);
        return transform.ExchangeOver;
    }

    /// <summary>
    /// Sends <paramref name="count"/> bytes to one side and counts them in its direction: to the client
    /// (<paramref name="toClient"/>) or to the back end. A side that can take nothing more (we closed it, or TLS 1.2
    /// close_notify) gets nothing, and the bytes count as discarded.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SendAsync(IRelayFrontEnd to, byte[] buffer, int count, RelayState state, bool toClient,
        CancellationToken token)
    {
        // WriteAsync itself says false when the side can take nothing more (CanWrite), without a second look under its lock.
        if (await to.WriteAsync(buffer, count, token))
        {
            Interlocked.Add(ref toClient ? ref state.BackendToClient : ref state.ClientToBackend, count);
        }
        else
        {
            Interlocked.Add(ref state.Discarded, count);
        }
    }

    /// <summary>
    /// Sends what a transform released: from the read buffer itself when the output is exactly its start, from the
    /// output's own buffer when it fits one write, else in chunks the side takes at once.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SendOutputAsync(IRelayFrontEnd to, byte[]? read, RelayOutput output, RelayState state,
        bool toClient, CancellationToken token)
    {
        if (output.TakeDirect(out var direct))
        {
            if (direct > 0) await SendAsync(to, read!, direct, state, toClient, token);
            return;
        }

        if (output.TryDetach(to.MaxWriteChunk, out var whole, out var length))
        {
            try
            {
                await SendAsync(to, whole, length, state, toClient, token);
            }
            finally
            {
                SocketIo.Return(whole);
            }

            return;
        }

        while (output.Count > 0)
        {
            int n = Math.Min(output.Count, to.MaxWriteChunk);
            byte[] chunk = SocketIo.Rent();
            try
            {
                output.Take(chunk, n);
                await SendAsync(to, chunk, n, state, toClient, token);
            }
            finally
            {
                SocketIo.Return(chunk);
            }
        }
    }
}
