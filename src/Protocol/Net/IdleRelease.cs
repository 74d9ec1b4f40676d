using System.Diagnostics;

namespace SslCluster.Protocol.Net;

/// <summary>Keeps the relays that may give their back-end connection back once their client is idle (see <see cref="IdleRelease"/>).</summary>
internal interface IIdleReleases
{
    void Add(IdleRelease release);

    void Remove(IdleRelease release);
}

/// <summary>
/// One relay in release mode (a keep-alive client under <c>http-reuse</c>, or any HTTP flow once the node drains, see
/// <see cref="DrainRelease"/>): lets a periodic sweep stop it, leaving both connections open, once its client has been
/// idle between two messages for a while with every answer sent. The relay then ends with
/// <see cref="RelayState.Released"/>; under http-reuse the back-end connection goes back to the pool, and the client
/// waits for its next request holding no back-end connection. A busy client is never stopped: it pays nothing per
/// request for this but a time stamp.
/// </summary>
internal sealed class IdleRelease
{
    /// <summary>The client loop is reading or forwarding, or waiting in the middle of a message.</summary>
    internal const int ClientActive = 0;

    /// <summary>The client loop waits for bytes with every request it read whole and forwarded.</summary>
    internal const int ClientParked = 1;

    /// <summary>The relay was released: the client loop reads nothing more, its unread bytes wait for the next exchange.</summary>
    internal const int ClientReleased = 2;

    private readonly Lock _gate = new();
    private readonly RelayState _state;
    private bool _finished;
    private readonly CancellationTokenSource _clientWait;
    private readonly CancellationTokenSource _backendWait;

    internal IdleRelease(IDrainableFlow exchange, RelayState state, CancellationTokenSource clientWait, CancellationTokenSource backendWait)
    {
        Exchange = exchange;
        _state = state;
        _clientWait = clientWait;
        _backendWait = backendWait;
    }

    internal IDrainableFlow Exchange { get; }

    /// <summary>Stops the parked client loop's wait for bytes (the release).</summary>
    internal CancellationToken ClientWait => _clientWait.Token;

    /// <summary>
    /// Releases the relay when both loops wait, each with nothing in hand: the client loop parked between two messages,
    /// the response loop for the back end's next bytes with everything it had sent (the back end not ended); every
    /// answer went out over a connection fit for another request (or over any connection, when the node drains), and no
    /// byte moved either way for <paramref name="idleFor"/>. True when it did.
    /// </summary>
    public bool TryRelease(TimeSpan idleFor)
    {
        lock (_gate)
        {
            if (_finished ||
                Volatile.Read(ref _state.ClientPhase) != ClientParked ||
                !Volatile.Read(ref _state.BackendParked) ||
                Volatile.Read(ref _state.BackendEnded) ||
                Stopwatch.GetElapsedTime(Volatile.Read(ref _state.LastActivity)) < idleFor ||
                // A drain releases a client whose back-end connection is its own too, to close both.
                !Exchange.Releasable ||
                Interlocked.CompareExchange(ref _state.ClientPhase, ClientReleased, ClientParked) != ClientParked)
            {
                return false;
            }

            Volatile.Write(ref _state.Released, true);
            // Both loops wait: stop the two waits (their continuations are queued, never run inside these calls).
            // Under the lock, so that the relay cannot end and dispose them meanwhile (Finish waits for it).
            _clientWait.Cancel();
            _backendWait.Cancel();
            return true;
        }
    }

    /// <summary>The relay ended: no release from now on (called before its cancellation sources are disposed).</summary>
    public void Finish()
    {
        lock (_gate) _finished = true;
    }
}
