using System.Collections.Concurrent;
using SslCluster.OpenSsl;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// The engine's sessions: TLS 1.2 session IDs in the
/// <see cref="ITlsSessionStore"/> (replicated to every node; the bytes are OpenSSL's session DER), scoped by the
/// ssl-server's binding key; tickets for TLS 1.2 and TLS 1.3 under the cluster's <see cref="SessionTicketKeys"/>, whose
/// secrets give every node the same AES and HMAC keys. OpenSSL itself refuses a session whose session-ID context
/// (the binding key) is not the ssl-server's, whether it comes by ID or by ticket.
/// </summary>
internal sealed class OpenSslSessions : ITlsSessionHooks
{
    private readonly ITlsSessionStore? _store;
    private readonly SessionTicketKeys? _tickets;
    private readonly TimeSpan _defaultLifetime;

    // The OpenSSL form of each ticket key, made once per key (HKDF); pruned as keys retire.
    private readonly ConcurrentDictionary<string, TicketKeyMaterial> _materials = new(StringComparer.Ordinal);

    public OpenSslSessions(ITlsSessionStore? store, SessionTicketKeys? tickets, TimeSpan defaultLifetime)
    {
        _store = store;
        _tickets = tickets;
        _defaultLifetime = defaultLifetime;
    }

    public bool CachesSessionIds => _store is not null;

    public bool IssuesTickets => _tickets is not null;

    public TicketKeyMaterial? CurrentTicketKey
    {
        get
        {
            if (_tickets?.CurrentKey is not { } key)
            {
                return null;
            }

            _tickets.Count(issued: true);
            return Material(key);
        }
    }

    public TimeSpan SessionLifetime(SslConnection connection) =>
        connection.SelectedContext?.Tag is TlsFrontEndBinding binding ? binding.SessionTimeout ?? _defaultLifetime : TimeSpan.Zero;

    public void SessionCreated(SslConnection connection, ReadOnlySpan<byte> id, ReadOnlySpan<byte> sessionDer)
    {
        if (_store is null || connection.SelectedContext?.Tag is not TlsFrontEndBinding binding)
        {
            return;
        }

        var lifetime = binding.SessionTimeout ?? _defaultLifetime;
        if (lifetime > TimeSpan.Zero)
        {
            _store.Put(id.ToArray(), binding.BindingKey, sessionDer.ToArray(), lifetime);
        }
    }

    public byte[]? FindSession(SslConnection connection, ReadOnlySpan<byte> id) =>
        _store is not null && connection.SelectedContext?.Tag is TlsFrontEndBinding binding && _store.TryGet(id, binding.BindingKey, out var der)
            ? der
            : null;

    public TicketKeyMaterial? FindTicketKey(ReadOnlySpan<byte> name, out bool renew)
    {
        renew = false;
        if (_tickets is null)
        {
            return null;
        }

        var current = _tickets.CurrentKey;
        foreach (var key in _tickets.Keys)
        {
            if (name.SequenceEqual(key.Name))
            {
                renew = !key.Equals(current);
                _tickets.Count(opened: true);
                return Material(key);
            }
        }

        _tickets.Count(refused: true);
        return null;
    }

    private TicketKeyMaterial Material(TicketKey key)
    {
        if (_materials.TryGetValue(key.NameHex, out var held))
        {
            return held;
        }

        var made = _materials.GetOrAdd(key.NameHex, _ => new TicketKeyMaterial(key.Name, key.Secret));
        if (_materials.Count > 8 && _tickets is { } tickets)
        {
            // Retired keys go; their native memory is freed once no callback still holds them (see TicketKeyMaterial).
            var live = tickets.Keys.Select(k => k.NameHex).ToHashSet(StringComparer.Ordinal);
            foreach (var name in _materials.Keys.Where(n => !live.Contains(n)).ToList())
            {
                _materials.TryRemove(name, out _);
            }
        }

        return made;
    }
}
