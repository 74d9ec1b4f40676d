using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// Our TLS 1.2 sessions with real servers, one per backend profile (the reference's "session key re-use" for
/// back-end SSL): the next connection to the same server offers it and skips the full handshake. Bounded (least
/// recently used goes first) and expiring (the backend-server's <c>session-cache</c> timeout). Lives in memory
/// only: a master secret never reaches disk. Thread-safe.
/// </summary>
public sealed class BackendSessionCache
{
    private readonly BoundedLruCache<string, Entry> _entries;
    private readonly TimeProvider _time;

    public BackendSessionCache(TimeProvider time, int capacity = 4096)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _entries = new BoundedLruCache<string, Entry>(capacity);
    }

    public int Count => _entries.Count;

    /// <summary>The clock entries expire by.</summary>
    internal TimeProvider Time => _time;

    /// <summary>The session to offer for <paramref name="key"/>, or null when none is stored or it expired.</summary>
    public TlsSession? Get(string key)
    {
        if (!_entries.TryGet(key, out var entry) || entry.Expires <= _time.GetUtcNow() || !entry.Session.IsResumable)
        {
            return null;
        }

        return entry.Session;
    }

    /// <summary>Stores the session of a full handshake, replacing any older one of the same key.</summary>
    public void Put(string key, TlsSession session, TimeSpan ttl)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        _entries.Set(key, new Entry(session, _time.GetUtcNow() + ttl));
    }

    private sealed record Entry(TlsSession Session, DateTimeOffset Expires);
}
