using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>
/// The idle back-end connections of one configuration revision (<c>ssl-server N http-reuse</c>), by key (a real server
/// and what the connection agreed with it). A connection comes back here only between two messages with every request
/// answered; it is handed out most-recent first, after a check that the server has not closed it meanwhile and sent
/// nothing since (a zero-timeout poll: bytes nothing asked for must never reach the next client), and
/// closed once idle longer than the ssl-server's http-reuse time (which should stay below the server's own keep-alive
/// timeout), when its key holds <see cref="MaxIdlePerKey"/> already, or when the pool is disposed (the revision is
/// retired).
/// </summary>
internal sealed class BackendPool : IIdleReleases, IDisposable
{
    /// <summary>
    /// A keep-alive client idle this long between two messages gives its back-end connection back (the next sweep
    /// releases its relay): long enough that a busy client never pays for it, short enough that idle clients hold
    /// back-end connections for a moment only.
    /// </summary>
    public static readonly TimeSpan IdleClientAfter = TimeSpan.FromMilliseconds(500);

    /// <summary>How often idle clients and expired connections are looked for.</summary>
    private static readonly TimeSpan SweepEvery = TimeSpan.FromMilliseconds(250);

    /// <summary>The most idle connections kept for one key; a connection returned beyond it is closed.</summary>
    public const int MaxIdlePerKey = 256;

    private readonly Dictionary<object, Stack<(BackendLeg Leg, long Since)>> _idle = [];
    private readonly HashSet<IdleRelease> _relays = [];
    private readonly Lock _gate = new();
    private readonly TimeSpan _idleTimeout;
    private readonly TimeProvider _time;
    private readonly ITimer _sweep;
    private bool _disposed;
    private int _sweeping;
    private long _reused;
    private long _stale;

    public BackendPool(TimeSpan idleTimeout, TimeProvider? time = null)
    {
        if (idleTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(idleTimeout), idleTimeout, "must be positive");
        _idleTimeout = idleTimeout;
        _time = time ?? TimeProvider.System;
        _sweep = _time.CreateTimer(_ => Sweep(), null, SweepEvery, SweepEvery);
    }

    /// <summary>Connections handed out again so far.</summary>
    public long Reused => Interlocked.Read(ref _reused);

    /// <summary>Idle connections found closed by their server (or with unexpected bytes) when about to be handed out.</summary>
    public long Stale => Interlocked.Read(ref _stale);

    /// <summary>Idle connections kept now, over all keys.</summary>
    public int IdleCount
    {
        get
        {
            lock (_gate) return _idle.Values.Sum(s => s.Count);
        }
    }

    /// <summary>An idle connection for <paramref name="key"/> still open at its server, or null.</summary>
    public BackendLeg? TryTake(object key)
    {
        while (true)
        {
            BackendLeg leg;
            long since;
            lock (_gate)
            {
                if (_disposed || !_idle.TryGetValue(key, out var stack) || !stack.TryPop(out var entry)) return null;
                (leg, since) = entry;
            }
            if (_time.GetElapsedTime(since) >= _idleTimeout)
            {
                leg.Dispose();
                continue;
            }
            if (!QuietAndOpen(leg.Link.Socket) || leg.Side.HasPendingInput)
            {
                Interlocked.Increment(ref _stale);
                leg.Dispose();
                continue;
            }
            Interlocked.Increment(ref _reused);
            leg.SetIdle(false);
            return leg;
        }
    }

    /// <summary>Keeps <paramref name="leg"/> for the next request to <paramref name="key"/>, or closes it (full, disposed).</summary>
    public void Return(object key, BackendLeg leg)
    {
        // Idle from now on: the TLS engine's buffers grown by what it carried go back (the leg's loops have ended).
        leg.Side.ReleaseIdleBuffers();
        leg.SetIdle(true);
        lock (_gate)
        {
            // Bytes already read past the last answer (records inside the TLS engine) belong to no request.
            if (!_disposed && !leg.Side.HasPendingInput)
            {
                if (!_idle.TryGetValue(key, out var stack)) _idle[key] = stack = new Stack<(BackendLeg, long)>();
                if (stack.Count < MaxIdlePerKey)
                {
                    stack.Push((leg, _time.GetTimestamp()));
                    return;
                }
            }
        }
        leg.Dispose();
    }

    /// <summary>
    /// Nothing to read and no end seen: a server that closed an idle connection (FIN or RST) makes its socket
    /// readable, and an idle connection has no answer coming.
    /// </summary>
    private static bool QuietAndOpen(Socket socket)
    {
        try
        {
            return !socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Keeps a relay in release mode while it runs, for the sweep to release once its client is idle.</summary>
    public void Add(IdleRelease release)
    {
        lock (_gate) _relays.Add(release);
    }

    public void Remove(IdleRelease release)
    {
        lock (_gate) _relays.Remove(release);
    }

    /// <summary>
    /// Releases the relays whose client is idle (their connections come back here), and closes the connections idle for
    /// the whole http-reuse time (the oldest are at the bottom of each stack).
    /// </summary>
    private void Sweep()
    {
        // A timer callback must not throw (that would end the process), nor run twice at once on a slow tick.
        if (Interlocked.Exchange(ref _sweeping, 1) != 0) return;
        try
        {
            IdleRelease[] relays;
            lock (_gate) relays = _relays.Count == 0 ? [] : [.. _relays];
            foreach (var relay in relays) relay.TryRelease(IdleClientAfter);
            SweepExpired();
        }
#pragma warning disable CA1031 // The next tick tries again; a defect here must not end the node.
        catch (Exception e)
#pragma warning restore CA1031
        {
            System.Diagnostics.Trace.TraceError("back-end connection pool sweep failed: " + e);
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private void SweepExpired()
    {
        List<BackendLeg>? expired = null;
        lock (_gate)
        {
            if (_idle.Count == 0) return;
            foreach (var (key, stack) in _idle.ToList())
            {
                if (stack.Count == 0 || _time.GetElapsedTime(stack.Last().Since) < _idleTimeout) continue;
                var kept = stack.Where(e => _time.GetElapsedTime(e.Since) < _idleTimeout).Reverse().ToList();
                (expired ??= []).AddRange(stack.Where(e => _time.GetElapsedTime(e.Since) >= _idleTimeout).Select(e => e.Leg));
                if (kept.Count == 0) _idle.Remove(key);
                else _idle[key] = new Stack<(BackendLeg, long)>(kept);
            }
        }
        expired?.ForEach(leg => leg.Dispose());
    }

    public void Dispose()
    {
        List<BackendLeg> all;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            all = _idle.Values.SelectMany(s => s.Select(e => e.Leg)).ToList();
            _idle.Clear();
        }
        _sweep.Dispose();
        all.ForEach(leg => leg.Dispose());
    }
}

/// <summary>
/// Where the back-end connections of the flows of one ssl-server with http-reuse come from and go back to: the pool of
/// the ssl-server in this revision, and how long its clients may wait. One per ssl-server and revision, shared by its
/// flows; the choice of the real server is the flow's (<see cref="IFlowRoutes.ChooseBackend"/>).
/// </summary>
/// <param name="FirstRequestTimeout">How long a client may take to send its first whole request head after the handshake.</param>
/// <param name="KeepAliveTimeout">
/// How long a keep-alive client may stay idle between two messages (holding no back-end connection) before it is closed
/// cleanly; zero for no limit.
/// </param>
internal sealed record BackendReuse(BackendPool Pool, TimeSpan FirstRequestTimeout, TimeSpan KeepAliveTimeout);
