using System.Net;
using SslCluster.Protocol.Net;

namespace SslCluster.Protocol.Runtime;

/// <summary>Where a connection is in its life.</summary>
public enum ConnectionPhase
{
    /// <summary>Accepted, nothing read yet.</summary>
    Accepted,

    /// <summary>In the TLS handshake with the client.</summary>
    Handshake,

    /// <summary>
    /// Connecting to the destination (after the handshake, or at once for a clear-text relay); under http-reuse, also
    /// waiting for the client's first request, which decides the destination's connection.
    /// </summary>
    Dialling,

    /// <summary>Bytes flow both ways.</summary>
    Relaying,

    /// <summary>Closed; <see cref="ConnectionState.Outcome"/> says how.</summary>
    Ended,
}

/// <summary>
/// The live state of one connection, written by its data path (phase, outcome, back end, byte counts) and read by the
/// connection's actor, which owns it: where the connection is, which revision and module or rule it runs under, since
/// when, to which back end, and how many bytes have crossed the client side. Lock-free.
/// </summary>
public sealed class ConnectionState(long revision, string owner, EndPoint? client, DateTimeOffset started, ListenerPlan? listener = null)
{
    private int _phase;
    private int _outcome = -1;
    private EndPoint? _backend;
    private IByteCounts? _clientSide;
    // The data path to end on Abort: null until the runtime attaches it, AbortRequested once an abort came.
    private object? _connection;
    private static readonly object AbortRequested = new();
    private int _goingAway;

    public long Revision { get; } = revision;

    /// <summary>The module (TLS termination) or the clear-text rule (owner/rule) the connection belongs to.</summary>
    public string Owner { get; } = owner;

    public EndPoint? Client { get; } = client;

    public DateTimeOffset Started { get; } = started;

    /// <summary>
    /// The listener the client connected to, ADDRESS:PORT as configured: formatted when asked (a show command), not at
    /// every accept.
    /// </summary>
    public string? Vip => listener?.Key;

    /// <summary>The back end the connection relays to now (under http-reuse, the one of its latest request); null before.</summary>
    public EndPoint? Backend
    {
        get => Volatile.Read(ref _backend);
        set => Volatile.Write(ref _backend, value);
    }

    /// <summary>Bytes read from the client so far (TLS records included).</summary>
    public long BytesFromClient => Volatile.Read(ref _clientSide)?.BytesReceived ?? 0;

    /// <summary>Bytes written to the client so far (TLS records included).</summary>
    public long BytesToClient => Volatile.Read(ref _clientSide)?.BytesSent ?? 0;

    /// <summary>The client side's counters, read live from now on.</summary>
    public void Track(IByteCounts clientSide) => Volatile.Write(ref _clientSide, clientSide);

    public ConnectionPhase Phase => (ConnectionPhase)Volatile.Read(ref _phase);

    /// <summary>How the connection ended; null while it is open.</summary>
    public ProxyError? Outcome => Volatile.Read(ref _outcome) is var o and >= 0 ? (ProxyError)o : null;

    public void Enter(ConnectionPhase phase)
    {
        // Never backwards: a late callback cannot reopen an ended connection.
        int current;
        do
        {
            current = Volatile.Read(ref _phase);
            if ((int)phase <= current) return;
        }
        while (Interlocked.CompareExchange(ref _phase, (int)phase, current) != current);
    }

    /// <summary>
    /// The runtime hands over the connection it runs, so that <see cref="Abort"/> reaches it: an abort that came first
    /// ends it at once. One object per connection, in place of a cancellation source and its registration.
    /// </summary>
    public void Attach(IAbortable connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (Interlocked.CompareExchange(ref _connection, connection, null) == AbortRequested) connection.Abort();
        // A drain that began before the connection was attached reaches it now (GoAway is read after the attach, and
        // GoAway reads the connection after its flag: one of the two sees the other).
        else if (Volatile.Read(ref _goingAway) != 0) connection.GoAway();
    }

    /// <summary>Ends the connection's data path now (its actor stopped: a kill, a drain's deadline, the node stopping).</summary>
    public void Abort() => (Interlocked.Exchange(ref _connection, AbortRequested) as IAbortable)?.Abort();

    /// <summary>The node is draining: the data path ends the connection at its next clean point (<see cref="IAbortable.GoAway"/>).</summary>
    public void GoAway()
    {
        Interlocked.Exchange(ref _goingAway, 1);
        (Volatile.Read(ref _connection) as IAbortable)?.GoAway();
    }

    /// <summary>A back-end connection is in place: the connection relays to <paramref name="backend"/> from now on.</summary>
    public void RelayingTo(EndPoint? backend)
    {
        Backend = backend;
        Enter(ConnectionPhase.Relaying);
    }

    public void End(ProxyError outcome)
    {
        Volatile.Write(ref _outcome, (int)outcome);
        Enter(ConnectionPhase.Ended);
    }
}
