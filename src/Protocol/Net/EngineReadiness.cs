using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace SslCluster.Protocol.Net;

/// <summary>
/// Waits until one socket has bytes (or its end, or an error) through the runtime's socket engine, with one zero-byte
/// receive that is never cancelled: a wait's token ends the wait, not the receive, which stays in the engine and is
/// what the next wait takes up. The socket engine keeps a receive cancelled by its token in the socket's queue until
/// the next read event (dotnet/runtime#111400), together with the token's source and registration, and the next wait
/// then queues a second one: an idle keep-alive client, whose wait the idle release cancels, kept both (about 0.4 KiB).
/// One object per socket, which is also the receive's event-args, so the socket's own event-args for receives is never
/// made either: bytes are read with plain non-blocking receives after a wait (<see cref="SocketIo.ReceiveNow"/>).
/// </summary>
/// <remarks>
/// One wait at a time (the side's reading loop, one step after the other). A wait that the receive ends goes on inline
/// on the engine's thread, as the engine's own awaitable does; one that its token ends goes on from the thread pool,
/// never inside the call that cancelled it (a release under its lock, an abort on an actor's thread). Closing the socket
/// ends the receive with <see cref="SocketError.OperationAborted"/>, and the wait with it.
/// </remarks>
internal sealed class EngineReadiness : SocketAsyncEventArgs, IValueTaskSource
{
    // No receive in the engine and none ended untaken.
    private const int Idle = 0;
    // The receive is in the engine; no wait.
    private const int Pending = 1;
    // The receive is in the engine; a wait is on it.
    private const int Waited = 2;
    // The receive ended (its error in _outcome) while no wait was on it: the next wait takes it at once.
    private const int Ended = 3;

    private readonly Socket _socket;
    private readonly RelaySide _side;
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _registration;
    private SocketError _outcome;
    private int _state;
    // The wait under way reports a failure as its side's RelayException (the relay's waits) rather than the socket's.
    private bool _asRelayError;

    public EngineReadiness(Socket socket, RelaySide side)
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _socket = socket;
        _side = side;
        SetBuffer(Memory<byte>.Empty);
    }

    /// <summary>
    /// Completes when the socket has bytes to read, has reached its end or has failed (a failure throws
    /// <see cref="SocketException"/>, <see cref="SocketError.OperationAborted"/> once the socket is closed); cancelled by
    /// <paramref name="cancellationToken"/>, which leaves the receive to the next wait. With
    /// <paramref name="asRelayError"/>, a failure is the side's reset (<see cref="RelayException"/>) instead.
    /// </summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken, bool asRelayError = false)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        _asRelayError = asRelayError;
        switch (Volatile.Read(ref _state))
        {
            case Ended:
                return Take();
            case Waited:
                throw new InvalidOperationException("A socket waits for readiness once at a time.");
            case Idle:
                Volatile.Write(ref _state, Pending);
                bool pending;
                try
                {
                    pending = _socket.ReceiveAsync(this);
                }
                catch
                {
                    Volatile.Write(ref _state, Idle);
                    throw;
                }

                if (!pending)
                {
                    // Readable (or failed) at once: no wait, nothing allocated.
                    Volatile.Write(ref _state, Idle);
                    return SocketError == SocketError.Success ? ValueTask.CompletedTask : ValueTask.FromException(Failure(SocketError));
                }

                break;
        }

        _core.Reset();
        var version = _core.Version;
        // In place before the wait is published, so that whoever ends the wait removes this one; a token cancelled
        // meanwhile is seen at once below.
        _registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static (state, token) => ((EngineReadiness)state!).Cancel(token), this)
            : default;
        if (Interlocked.CompareExchange(ref _state, Waited, Pending) != Pending)
        {
            // The receive ended between the start and now (a callback of this token could find no wait to end).
            _registration.Dispose();
            return Take();
        }

        // A token cancelled as it was registered ran its callback before the wait was there to end.
        if (cancellationToken.IsCancellationRequested) Cancel(cancellationToken);
        return new ValueTask(this, version);
    }

    /// <summary>
    /// Call before the socket closes at the end of its flow. The runtime closes a socket abortively (a reset) when the
    /// close aborts a receive still in its engine, unless the send side was shut first: a receive left there by a wait
    /// that its token ended would turn every such close into a reset. The send side is shut then, so that the close is
    /// the FIN it would be without that receive, unless a reset was asked for (linger 0: an abort, an answer cut). A wait
    /// still on its receive is left as it is. The event-args is released too (when the socket's close ends a receive still
    /// in the engine, if there is one).
    /// </summary>
    public void BeforeClose()
    {
        if (Volatile.Read(ref _state) == Pending && !AsksForReset()) SocketIo.ShutdownSendQuietly(_socket);
        Dispose();
    }

    private bool AsksForReset()
    {
        try
        {
            return _socket.LingerState is { Enabled: true, LingerTime: 0 };
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Closed already: nothing is left to shut.
            return true;
        }
    }

    /// <summary>Takes the outcome of a receive that ended with no wait on it.</summary>
    private ValueTask Take()
    {
        var outcome = _outcome;
        Volatile.Write(ref _state, Idle);
        return outcome == SocketError.Success ? ValueTask.CompletedTask : ValueTask.FromException(Failure(outcome));
    }

    private Exception Failure(SocketError error)
    {
        var e = new SocketException((int)error);
        return _asRelayError ? _side.ReceiveFailed(e) : e;
    }

    /// <summary>The receive ended (the engine's thread): the wait on it goes on here, or the next wait takes it.</summary>
    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        _outcome = SocketError;
        // A wait may begin (Pending -> Waited) between any two reads here: whichever state is seen, the step that fits it
        // is tried, and a step that finds the state changed under it looks again, so that no receive is ever dropped.
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Waited:
                    if (Interlocked.CompareExchange(ref _state, Idle, Waited) != Waited) continue;
                    // Dispose, not Unregister: a cancellation callback already running for this wait finishes first, so
                    // that it can never end the next wait, which the continuation below may begin at once.
                    _registration.Dispose();
                    _core.RunContinuationsAsynchronously = false;
                    if (_outcome == SocketError.Success) _core.SetResult(true);
                    else _core.SetException(Failure(_outcome));
                    return;
                case Pending:
                    // No wait on it (its token ended it, or none began): kept for the next one.
                    if (Interlocked.CompareExchange(ref _state, Ended, Pending) != Pending) continue;
                    return;
                default:
                    return;
            }
        }
    }

    private void Cancel(CancellationToken token)
    {
        if (Interlocked.CompareExchange(ref _state, Pending, Waited) != Waited) return;
        _core.RunContinuationsAsynchronously = true;
        _core.SetException(new OperationCanceledException(token));
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
