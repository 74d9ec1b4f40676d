using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// What all connections of a listener share: the crypto (with its certificate cache), the options and the session
/// store. Thread-safe. One per process is enough; configuration revisions change bindings, not the engine.
/// </summary>
public sealed class TlsEngine
{
    /// <summary>
    /// Builds an engine. <paramref name="sessionStore"/> null disables TLS 1.2 session IDs; <paramref name="tickets"/>
    /// null disables TLS 1.2 session tickets (RFC 5077).
    /// </summary>
    public TlsEngine(TlsEngineOptions? options = null, ITlsSessionStore? sessionStore = null, SessionTicketKeys? tickets = null)
    {
        Options = options ?? new TlsEngineOptions();
        Options.Validate();
        SessionStore = sessionStore;
        Tickets = tickets;
        Crypto = Options.CryptoProvider == TlsCryptoProvider.BouncyCastle
            ? new BcTlsCrypto()
            : new NativeTlsCrypto(Options.CertificateCacheCapacity);
        if (Options.CryptoProvider == TlsCryptoProvider.OpenSsl)
        {
            OpenSslFront = OpenSsl.SslContext.CreateFront(new OpenSsl.FrontContextOptions
            {
                MinVersion = Options.MinVersion == TlsVersion.Tls13 ? 0x0304 : 0x0303,
                MaxVersion = Options.MaxVersion == TlsVersion.Tls13 ? 0x0304 : 0x0303,
                Sessions = sessionStore is null && tickets is null ? null : new OpenSslSessions(sessionStore, tickets, Options.SessionTimeout),

                // The session's own lifetime is set per ssl-server when it is made; this is only OpenSSL's default.
                SessionTimeout = Options.SessionTimeout,
            });
        }
    }

    /// <summary>The context every client connection starts on under the OpenSSL engine; null under the others.</summary>
    internal OpenSsl.SslContext? OpenSslFront { get; }

    /// <summary>The options in force.</summary>
    public TlsEngineOptions Options { get; }

    /// <summary>The session store, or null when resumption is off.</summary>
    public ITlsSessionStore? SessionStore { get; }

    /// <summary>The keys of TLS 1.2 session tickets, or null when tickets are off.</summary>
    public SessionTicketKeys? Tickets { get; }

    /// <summary>BouncyCastle crypto of the chosen provider.</summary>
    public TlsCrypto Crypto { get; }

    /// <summary>A server policy for one connection that picks its ssl-server with <paramref name="selector"/>.</summary>
    public OffloadTlsServer CreateServer(TlsBindingSelector selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        return new OffloadTlsServer(this, selector);
    }

    /// <summary>Back-end TLS sessions kept for reuse (in memory, bounded, expiring per profile).</summary>
    public BackendSessionCache BackendSessions { get; } = new(TimeProvider.System);

    /// <summary>The TLS client of one back-end connection under <paramref name="profile"/>, on this engine.</summary>
    public IBackendTlsClient CreateClient(BackendTlsProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return OpenSslFront is null ? CreateBouncyCastleClient(profile) : new OpenSslBackendClient(profile, _openSslBackendSessions);
    }

    /// <summary>A BouncyCastle client policy (the keepalive probes' blocking handshake uses it on every engine).</summary>
    public OffloadTlsClient CreateBouncyCastleClient(BackendTlsProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return new OffloadTlsClient(this, profile, BackendSessions, TimeProvider.System);
    }

    private readonly OpenSslBackendSessions _openSslBackendSessions = new(TimeProvider.System);
}
