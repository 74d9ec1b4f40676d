using System.Security.Cryptography;
using SslCluster.OpenSsl;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// The TLS client of one back-end connection (re-encryption, SSL initiation, encrypted keepalive): the
/// backend-server's client context (built once per profile), SNI, the session offered again from
/// <see cref="OpenSslBackendSessions"/>, and what the handshake negotiated. One per connection.
/// </summary>
public sealed class BackendTlsClient
{
    private readonly BackendTlsProfile _profile;
    private readonly OpenSslBackendSessions _sessions;

    private readonly string? _applicationProtocol;

    internal BackendTlsClient(BackendTlsProfile profile, OpenSslBackendSessions sessions, string? applicationProtocol = null)
    {
        _profile = profile;
        _sessions = sessions;
        _applicationProtocol = applicationProtocol;
    }

    /// <summary>
    /// The protocol the real server must agree by ALPN for the flow to go on (the client's, when it is not HTTP/1.x:
    /// an HTTP/2 client's bytes mean nothing to an HTTP/1.1 server); null when any answer will do.
    /// </summary>
    internal string? RequiredProtocol => _applicationProtocol is null or "http/1.1" or "http/1.0" ? null : _applicationProtocol;

    /// <summary>Set once the handshake completed.</summary>
    public BackendHandshakeInfo? Handshake { get; private set; }

    /// <summary>Why the server's certificate was refused, when it was.</summary>
    public string? CertificateProblem { get; private set; }

    /// <summary>The connection, its ClientHello queued; the caller drives it and then calls <see cref="Completed"/>.</summary>
    internal SslConnection Connect() =>
        SslClient.Connect(_profile.OpenSslContext(_sessions), _profile.ServerName, _profile.SessionTimeout > TimeSpan.Zero ? _sessions.Get(_profile.CacheKey) : null,
            _applicationProtocol);

    /// <summary>Records what the finished handshake negotiated (or, after a failure, why the certificate was refused).</summary>
    internal void Completed(SslConnection connection, bool succeeded)
    {
        var check = connection.PeerVerdict is ServerChainCheck c ? c : default;
        if (!succeeded)
        {
            CertificateProblem = connection.PeerRefused ? check.Problem : null;
            return;
        }

        Handshake = new BackendHandshakeInfo(connection.Version == 0x0304 ? TlsVersion.Tls13 : TlsVersion.Tls12, connection.CipherSuite,
            connection.Resumed, _profile.VerifiesServer, check.Subject);
    }
}

/// <summary>
/// Our sessions with real servers on the OpenSSL engine (the reference's "session key re-use"), one per backend
/// profile, as OpenSSL's session DER: bounded, expiring with the backend-server's <c>session-cache</c>, in memory only.
/// A TLS 1.3 server's ticket arrives after the handshake and replaces the entry. Thread-safe.
/// </summary>
internal sealed class OpenSslBackendSessions
{
    private readonly BoundedLruCache<string, (byte[] Der, DateTimeOffset Expires)> _entries;
    private readonly TimeProvider _time;

    public OpenSslBackendSessions(TimeProvider time, int capacity = 4096)
    {
        _time = time;
        _entries = new(capacity);
    }

    public int Count => _entries.Count;

    public byte[]? Get(string key) =>
        _entries.TryGet(key, out var entry) && entry.Expires > _time.GetUtcNow() ? entry.Der : null;

    public void Put(string key, byte[] der, TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero)
        {
            CryptographicOperations.ZeroMemory(der);
            return;
        }

        _entries.Set(key, (der, _time.GetUtcNow() + ttl));
    }
}
