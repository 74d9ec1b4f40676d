namespace SslCluster.Protocol.Tls;

/// <summary>
/// What all connections of a listener share: the OpenSSL context every client connection starts on (versions,
/// groups, the session cache and ticket-key callbacks), the options and the session store, and our sessions with real
/// servers. Thread-safe. Configuration revisions change bindings (the ssl-servers' contexts), not the engine.
/// </summary>
public sealed class TlsEngine
{
    /// <summary>
    /// Builds an engine. <paramref name="sessionStore"/> null disables TLS 1.2 session IDs; <paramref name="tickets"/>
    /// null disables session tickets (TLS 1.2 RFC 5077 and TLS 1.3 resumption).
    /// </summary>
    public TlsEngine(TlsEngineOptions? options = null, ITlsSessionStore? sessionStore = null, SessionTicketKeys? tickets = null)
    {
        Options = options ?? new TlsEngineOptions();
        Options.Validate();
        SessionStore = sessionStore;
        Tickets = tickets;
        Front = OpenSsl.SslContext.CreateFront(new OpenSsl.FrontContextOptions
        {
            MinVersion = Options.MinVersion == TlsVersion.Tls13 ? 0x0304 : 0x0303,
            MaxVersion = Options.MaxVersion == TlsVersion.Tls13 ? 0x0304 : 0x0303,
            Sessions = sessionStore is null && tickets is null ? null : new OpenSslSessions(sessionStore, tickets, Options.SessionTimeout),

            // The session's own lifetime is set per ssl-server when it is made; this is only OpenSSL's default.
            SessionTimeout = Options.SessionTimeout,
        });
    }

    /// <summary>The context every client connection starts on, until its ClientHello selects an ssl-server's.</summary>
    internal OpenSsl.SslContext Front { get; }

    /// <summary>The options in force.</summary>
    public TlsEngineOptions Options { get; }

    /// <summary>The session store, or null when resumption by session ID is off.</summary>
    public ITlsSessionStore? SessionStore { get; }

    /// <summary>The keys of session tickets, or null when tickets are off.</summary>
    public SessionTicketKeys? Tickets { get; }

    /// <summary>
    /// The TLS client of one back-end connection (re-encryption, initiation, encrypted keepalive) under
    /// <paramref name="profile"/>; <paramref name="applicationProtocol"/>, the protocol the client agreed by ALPN, is
    /// offered to the real server (and required of it unless it is HTTP/1.x).
    /// </summary>
    public BackendTlsClient CreateClient(BackendTlsProfile profile, string? applicationProtocol = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return new BackendTlsClient(profile, _backendSessions, applicationProtocol);
    }

    /// <summary>Back-end sessions kept for re-use (in memory, bounded, expiring per profile).</summary>
    private readonly OpenSslBackendSessions _backendSessions = new(TimeProvider.System);
}
