using System.Security.Cryptography.X509Certificates;
using System.Text;
using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>What a completed back-end handshake negotiated.</summary>
/// <param name="Version">TLS 1.2 or 1.3.</param>
/// <param name="CipherSuite">IANA code of the negotiated suite.</param>
/// <param name="Resumed">True when a stored session was reused (no full handshake).</param>
/// <param name="ServerVerified">True when the server's chain was checked against the backend-server's cacert.</param>
/// <param name="ServerSubject">Subject of the server's certificate (null when resumed: no certificate is sent).</param>
public sealed record BackendHandshakeInfo(TlsVersion Version, int CipherSuite, bool Resumed, bool ServerVerified, string? ServerSubject)
{
    public string CipherSuiteName => TlsCipherSuites.GetName(CipherSuite);
}

/// <summary>
/// The TLS client policy of one back-end connection (BouncyCastle <see cref="TlsClient"/>): TLS 1.2/1.3, the
/// profile's suites, X25519/P-256/P-384, the server's chain checked against the configured CAs (or recorded as
/// unverified), the client certificate presented only when asked, and TLS 1.2 session reuse through
/// <see cref="BackendSessionCache"/>. No renegotiation (BouncyCastle declines a HelloRequest), no compression, no
/// heartbeat. One per connection; not thread-safe (called from inside OfferInput, which the connection serialises).
/// </summary>
public sealed class OffloadTlsClient : AbstractTlsClient, IBackendTlsClient
{
    private static readonly int[] Groups = [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1];

    private readonly BackendTlsProfile _profile;
    private readonly BackendSessionCache? _sessions;
    private readonly TimeProvider _time;
    private string? _serverSubject;

    internal OffloadTlsClient(TlsEngine engine, BackendTlsProfile profile, BackendSessionCache? sessions, TimeProvider time)
        : base(engine.Crypto)
    {
        _profile = profile;
        _sessions = sessions;
        _time = time;
    }

    /// <summary>Set once the handshake completed.</summary>
    public BackendHandshakeInfo? Handshake { get; private set; }

    /// <summary>Why the server's certificate was refused, when it was.</summary>
    public string? CertificateProblem { get; private set; }

    /// <summary>The last alert the server sent.</summary>
    public short? LastAlertReceived { get; private set; }

    /// <summary>
    /// TLS 1.2 unless the backend-server says <c>version tls1.3</c>. The reference's back end relies on "session key
    /// re-use", and BouncyCastle 2.7 resumes TLS 1.2 sessions only: offering TLS 1.3 would make every back-end
    /// connection a full handshake. TLS 1.2 with ECDHE and AEAD suites only is no weaker for this leg.
    /// </summary>
    protected override ProtocolVersion[] GetSupportedVersions() =>
        _profile.MinimumVersion == TlsVersion.Tls13 ? [ProtocolVersion.TLSv13] : [ProtocolVersion.TLSv12];

    /// <inheritdoc />
    protected override int[] GetSupportedCipherSuites() => TlsUtilities.GetSupportedCipherSuites(Crypto, _profile.Suites);

    /// <inheritdoc />
    protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles) =>
        [.. Groups.Where(g => Crypto.HasNamedGroup(g))];

    /// <inheritdoc />
    protected override IList<ServerName>? GetSniServerNames() =>
        _profile.ServerName is { } name ? [new ServerName(NameType.host_name, Encoding.ASCII.GetBytes(name))] : null;

    /// <summary>A server closing TCP without close_notify after its answer is common and harmless for the relay.</summary>
    public override bool RequiresCloseNotify() => false;

    /// <inheritdoc />
    public override TlsSession? GetSessionToResume() =>
        _profile.SessionTimeout > TimeSpan.Zero ? _sessions?.Get(_profile.CacheKey) : null;

    /// <inheritdoc />
    public override TlsAuthentication GetAuthentication() => new Authentication(this);

    /// <inheritdoc />
    public override void NotifyAlertReceived(short alertLevel, short alertDescription) => LastAlertReceived = alertDescription;

    /// <inheritdoc />
    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();

        // SecurityParameters takes a lock on each access (bc-csharp issue 564): read everything once.
        var parameters = m_context.SecurityParameters;
        bool tls13 = TlsUtilities.IsTlsV13(parameters.NegotiatedVersion);
        bool resumed = parameters.IsResumedSession;
        Handshake = new BackendHandshakeInfo(tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12, parameters.CipherSuite, resumed,
            _profile.VerifiesServer, _serverSubject);
        if (!tls13 && !resumed && m_context.Session is { IsResumable: true } session)
        {
            _sessions?.Put(_profile.CacheKey, session, _profile.SessionTimeout);
        }
    }

    private void CheckServer(TlsServerCertificate serverCertificate)
    {
        var list = serverCertificate.Certificate?.GetCertificateList() ?? [];
        var check = ServerChainCheck.Check(_profile, [.. list.Select(c => c.GetEncoded())], _time.GetUtcNow().UtcDateTime);
        _serverSubject = check.Subject;
        if (check.Problem is { } problem)
        {
            CertificateProblem = problem;
            throw new TlsFatalAlert((short)check.Alert, problem);
        }
    }

    private sealed class Authentication(OffloadTlsClient owner) : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate) => owner.CheckServer(serverCertificate);

        /// <summary>The backend-server's certificate when it has one and a signature scheme in common; else none.</summary>
        public TlsCredentials? GetClientCredentials(Org.BouncyCastle.Tls.CertificateRequest certificateRequest)
        {
            var credential = owner._profile.ClientCredential;
            if (credential is null)
            {
                return null;
            }

            bool tls13 = TlsUtilities.IsTlsV13(owner.m_context.ServerVersion);
            return credential.CreateSigner(owner.m_context, tls13, certificateRequest.SupportedSignatureAlgorithms);
        }
    }
}
