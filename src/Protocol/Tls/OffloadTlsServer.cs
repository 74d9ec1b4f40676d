using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// The TLS server policy of one connection (BouncyCastle <see cref="TlsServer"/>): TLS 1.2/1.3 only, the
/// ssl-server chosen by SNI, only the binding's suites, native signing, TLS 1.2 session IDs through an
/// <see cref="ITlsSessionStore"/> scoped by binding key, TLS 1.2 session tickets sealed and opened with the
/// cluster's <see cref="SessionTicketKeys"/> (BouncyCastle sends the ticket we give it but never opens one), no
/// compression (BouncyCastle has none), no heartbeat, no OCSP stapling (not built yet). A client certificate is requested only when the chosen
/// binding has a <see cref="ClientAuthPolicy"/>; its outcome ends up in <see cref="HandshakeInfo.ClientAuth"/>.
/// Create one per connection with <see cref="TlsEngine.CreateServer"/>; not thread-safe (BouncyCastle calls it
/// from inside OfferInput, which the connection serialises).
/// </summary>
public sealed class OffloadTlsServer : AbstractTlsServer
{
    private static readonly int[] Groups = [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1];

    private readonly TlsEngine _engine;
    private readonly TlsBindingSelector _selector;
    private TlsFrontEndBinding? _binding;
    private string? _serverName;
    private bool _selected;
    private ClientAuthOutcome? _clientAuth;
    private IReadOnlyList<byte[]>? _clientChain;

    /// <summary>The client's session_ticket extension: null when absent, empty when it asks for a new ticket.</summary>
    private byte[]? _clientTicket;

    internal OffloadTlsServer(TlsEngine engine, TlsBindingSelector selector)
        : base(engine.Crypto)
    {
        _engine = engine;
        _selector = selector;
    }

    /// <summary>Set once the handshake completed; null before.</summary>
    public HandshakeInfo? Handshake { get; private set; }

    /// <summary>The ssl-server chosen from SNI, once the ClientHello was read.</summary>
    public TlsFrontEndBinding? Binding => _binding;

    /// <summary>True when the selector found no ssl-server for the SNI name (the handshake then failed).</summary>
    public bool ServerNameRejected { get; private set; }

    /// <summary>SNI host name the client sent, if any (lower case, no trailing dot).</summary>
    public string? ServerName => _serverName;

    /// <summary>The last alert we raised: description and BouncyCastle's message. For error reports.</summary>
    public (short Level, short Description, string? Message)? LastAlertRaised { get; private set; }

    /// <summary>The last alert the client sent.</summary>
    public (short Level, short Description)? LastAlertReceived { get; private set; }

    /// <summary>The TLS 1.2 session was put in the store after this handshake.</summary>
    public bool SessionStored { get; private set; }

    /// <summary>A new session ticket was sent in this handshake.</summary>
    public bool TicketIssued { get; private set; }

    /// <summary>Set when the client's certificate failed under the reject action (the handshake then failed).</summary>
    public ClientAuthOutcome? ClientAuthRejection { get; private set; }

    /// <inheritdoc />
    protected override ProtocolVersion[] GetSupportedVersions()
    {
        var options = _engine.Options;
        var max = options.MaxVersion == TlsVersion.Tls13 ? ProtocolVersion.TLSv13 : ProtocolVersion.TLSv12;
        var min = options.MinVersion == TlsVersion.Tls13 ? ProtocolVersion.TLSv13 : ProtocolVersion.TLSv12;
        return max.DownTo(min);
    }

    /// <inheritdoc />
    protected override int[] GetSupportedCipherSuites() =>
        TlsUtilities.GetSupportedCipherSuites(Crypto, [.. TlsCipherSuites.Default]);

    /// <summary>The chosen binding's suites once SNI is known (BouncyCastle asks after ProcessClientExtensions).</summary>
    public override int[] GetCipherSuites() => _binding?.Suites ?? base.GetCipherSuites();

    /// <inheritdoc />
    protected override bool PreferLocalCipherSuites() => true;

    /// <summary>X25519 first (fastest here), then P-256 and P-384; no finite-field groups (slow, unneeded).</summary>
    public override int[] GetSupportedGroups() => Groups;

    /// <inheritdoc />
    protected override bool AllowCertificateStatus() => false;

    /// <summary>A client EOF without close_notify is a normal close unless the options say otherwise.</summary>
    public override bool RequiresCloseNotify() => _engine.Options.RequireClientCloseNotify;

    /// <inheritdoc />
    public override void ProcessClientExtensions(IDictionary<int, byte[]> clientExtensions)
    {
        base.ProcessClientExtensions(clientExtensions);
        string? name = null;
        if (clientExtensions is not null)
        {
            _clientTicket = TlsUtilities.GetExtensionData(clientExtensions, ExtensionType.session_ticket);
            var names = TlsExtensionsUtilities.GetServerNameExtensionClient(clientExtensions);
            if (names is not null)
            {
                foreach (var serverName in names)
                {
                    if (serverName.NameType == NameType.host_name)
                    {
                        name = NormaliseHostName(serverName.NameData);
                        break;
                    }
                }
            }
        }

        Select(name);
    }

    /// <inheritdoc />
    public override IDictionary<int, byte[]> GetServerExtensions()
    {
        var extensions = base.GetServerExtensions();

        // RFC 6066 3: a server that used the client's server_name answers with an empty server_name extension.
        if (_serverName is not null)
        {
            TlsExtensionsUtilities.AddServerNameExtensionServer(extensions);
        }

        // RFC 5077 3.2: an empty session_ticket extension promises a NewSessionTicket message (full TLS 1.2 handshakes
        // only: BouncyCastle does not ask on resumption, and TLS 1.3 has no such extension).
        if (_clientTicket is not null && !TlsUtilities.IsTlsV13(m_context) && _engine.Tickets is { CanIssue: true } &&
            SessionLifetime(RequireBinding()) > TimeSpan.Zero)
        {
            extensions[ExtensionType.session_ticket] = TlsUtilities.EmptyBytes;
        }

        return extensions;
    }

    /// <inheritdoc />
    public override TlsCredentials GetCredentials()
    {
        // DefaultTlsServer throws here under TLS 1.3; we sign with the binding's credential for both versions.
        var binding = RequireBinding();
        var parameters = m_context.SecurityParameters;
        bool tls13 = TlsUtilities.IsTlsV13(parameters.NegotiatedVersion);
        if (!tls13)
        {
            int kx = parameters.KeyExchangeAlgorithm;
            var expected = binding.Credential.KeyType == ServerKeyType.Rsa
                ? KeyExchangeAlgorithm.ECDHE_RSA
                : KeyExchangeAlgorithm.ECDHE_ECDSA;
            if (kx != expected)
            {
                throw new TlsFatalAlert(AlertDescription.internal_error, "suite does not match the credential");
            }
        }

        return binding.Credential.CreateSigner(m_context, tls13, parameters.ClientSigAlgs)
            ?? throw new TlsFatalAlert(AlertDescription.handshake_failure,
                "no signature algorithm in common with the client");
    }

    /// <inheritdoc />
    public override byte[]? GetNewSessionID()
    {
        if (_engine.SessionStore is null)
        {
            return null;
        }

        return RandomNumberGenerator.GetBytes(32);
    }

    /// <summary>
    /// Seals this handshake's session into a ticket (RFC 5077 3.3). Under client authentication the client's chain
    /// goes in, as with session IDs. Should the keys have retired since the ServerHello, the ticket is empty, which
    /// RFC 5077 allows: the client then simply has none.
    /// </summary>
    public override NewSessionTicket GetNewSessionTicket()
    {
        var binding = RequireBinding();
        var lifetime = SessionLifetime(binding);
        var parameters = m_context.SecurityParameters;
        var chain = binding.ClientAuth is null ? null : _clientChain ?? [];
        byte[]? ticket = null;
        if (_engine.Tickets is { } tickets && lifetime > TimeSpan.Zero && TlsSessionCodec.CanCarry(chain))
        {
            var session = new SessionParameters.Builder()
                .SetNegotiatedVersion(parameters.NegotiatedVersion)
                .SetCipherSuite(parameters.CipherSuite)
                .SetExtendedMasterSecret(parameters.IsExtendedMasterSecret)
                .SetMasterSecret(parameters.MasterSecret)
                .Build();
            var exported = TlsSessionCodec.Export(Crypto, session, chain);
            try
            {
                ticket = tickets.Seal(binding.BindingKey, lifetime, exported);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(exported);
            }
        }

        TicketIssued = ticket is not null;
        return new NewSessionTicket(ticket is null ? 0 : (long)lifetime.TotalSeconds, ticket ?? TlsUtilities.EmptyBytes);
    }

    /// <summary>How long a session of this ssl-server may resume, by ID or by ticket (its session-cache timeout).</summary>
    private TimeSpan SessionLifetime(TlsFrontEndBinding binding) => binding.SessionTimeout ?? _engine.Options.SessionTimeout;

    /// <inheritdoc />
    public override TlsSession? GetSessionToResume(byte[] sessionID)
    {
        var binding = RequireBinding();
        if (sessionID is null || sessionID.Length == 0)
        {
            // RFC 5077 3.4: resuming from a ticket echoes the client's session ID; without one the client could not
            // tell a resumption from a full handshake, so such a ticket is not used.
            return null;
        }

        if (!TryFindSession(sessionID, binding, out byte[] exported))
        {
            return null;
        }

        try
        {
            var parameters = TlsSessionCodec.Import(Crypto, exported, out var clientChain);

            // A stored session resumes only with a suite this ssl-server still offers (its list may have changed
            // since) and that the client offers now (BouncyCastle checks the latter, we check both).
            if (parameters is null || Array.IndexOf(binding.Suites, parameters.CipherSuite) < 0 ||
                m_offeredCipherSuites is null || Array.IndexOf(m_offeredCipherSuites, parameters.CipherSuite) < 0 ||
                !MayResume(binding, clientChain))
            {
                parameters?.Clear();
                return null;
            }

            return TlsUtilities.ImportSession(sessionID, parameters);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(exported);
        }
    }

    /// <summary>The session for this ID from the store, else from the client's ticket.</summary>
    private bool TryFindSession(byte[] sessionID, TlsFrontEndBinding binding, out byte[] exported)
    {
        if (_engine.SessionStore is { } store && store.TryGet(sessionID, binding.BindingKey, out exported))
        {
            return true;
        }

        exported = [];
        return _clientTicket is { Length: > 0 } ticket && _engine.Tickets is { } tickets &&
            tickets.TryOpen(ticket, binding.BindingKey, out exported);
    }

    /// <summary>
    /// A resumed session gets the client-auth outcome of its full handshake: the chain stored with it is checked again
    /// now (a certificate revoked or expired since then does not resume; the client gets a full handshake and the
    /// policy's verdict). A session stored without a chain cannot tell, so it does not resume under client auth.
    /// </summary>
    private bool MayResume(TlsFrontEndBinding binding, IReadOnlyList<byte[]>? clientChain)
    {
        _clientAuth = null;
        _clientChain = null;
        if (binding.ClientAuth is not { } policy)
        {
            return true;
        }

        if (clientChain is null)
        {
            return false;
        }

        var outcome = policy.Verify(clientChain);
        if (outcome.Failed && policy.Failure == Config.ClientAuthFailureAction.Reject)
        {
            return false;
        }

        _clientAuth = outcome;
        _clientChain = clientChain;
        return true;
    }

    /// <summary>Asks for a client certificate when the binding chosen by SNI has client authentication.</summary>
    public override CertificateRequest? GetCertificateRequest()
    {
        if (RequireBinding().ClientAuth is not { } policy)
        {
            return null;
        }

        bool tls13 = TlsUtilities.IsTlsV13(m_context);
        var algorithms = TlsUtilities.GetDefaultSupportedSignatureAlgorithms(m_context);
        return tls13
            ? new CertificateRequest(TlsUtilities.EmptyBytes, algorithms, null, policy.AuthorityNames)
            : new CertificateRequest([ClientCertificateType.rsa_sign, ClientCertificateType.ecdsa_sign], algorithms,
                policy.AuthorityNames);
    }

    /// <summary>
    /// Applies the binding's client-auth policy. Under reject a failed client gets the matching fatal alert
    /// (certificate_required or handshake_failure, unknown_ca, bad_certificate, certificate_expired,
    /// certificate_revoked, certificate_unknown); under ignore and redirect the handshake goes on and the outcome is
    /// recorded. A certificate that passes here must still prove its key with CertificateVerify, which BouncyCastle
    /// checks next with the key cached by <see cref="NativeTlsCrypto"/>.
    /// </summary>
    public override void NotifyClientCertificate(Certificate clientCertificate)
    {
        ArgumentNullException.ThrowIfNull(clientCertificate);
        if (RequireBinding().ClientAuth is not { } policy)
        {
            // Only reachable if a client sends a certificate unasked; the base class would throw.
            return;
        }

        var chain = new byte[clientCertificate.Length][];
        for (int i = 0; i < chain.Length; i++)
        {
            chain[i] = clientCertificate.GetCertificateAt(i).GetEncoded();
        }

        var outcome = policy.Verify(chain);
        _clientAuth = outcome;
        _clientChain = chain;
        if (outcome.Failed && policy.Failure == Config.ClientAuthFailureAction.Reject)
        {
            ClientAuthRejection = outcome;
            throw new TlsFatalAlert(outcome.AlertFor(TlsUtilities.IsTlsV13(m_context)), outcome.Reason);
        }
    }

    /// <inheritdoc />
    public override void NotifyAlertRaised(short alertLevel, short alertDescription, string message,
        Exception cause)
    {
        LastAlertRaised = (alertLevel, alertDescription, message);
    }

    /// <inheritdoc />
    public override void NotifyAlertReceived(short alertLevel, short alertDescription)
    {
        LastAlertReceived = (alertLevel, alertDescription);
    }

    /// <inheritdoc />
    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        var binding = RequireBinding();

        // SecurityParameters takes a lock on each access (bc-csharp issue 564): read everything once.
        var parameters = m_context.SecurityParameters;
        bool tls13 = TlsUtilities.IsTlsV13(parameters.NegotiatedVersion);
        bool resumed = parameters.IsResumedSession;
        var clientAuth = binding.ClientAuth is null
            ? ClientAuthOutcome.NotRequested
            : _clientAuth ?? new ClientAuthOutcome(ClientAuthResult.Missing, null, null, null, "the client sent no certificate message");
        Handshake = new HandshakeInfo(tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12, parameters.CipherSuite,
            _serverName, resumed, binding.BindingKey, binding.Tag, clientAuth)
        {
            SessionId = !tls13 && parameters.SessionID is { Length: > 0 } sid ? Convert.ToHexString(sid) : null,
        };

        // A client given a ticket resumes with it (RFC 5077 3.4; OpenSSL even replaces the session ID with a hash of
        // the ticket): storing and copying its session ID as well would only crowd out clients without tickets.
        var store = _engine.SessionStore;
        byte[]? id = parameters.SessionID;
        var ttl = SessionLifetime(binding);
        if (store is null || tls13 || resumed || TicketIssued || id is null || id.Length == 0 || ttl <= TimeSpan.Zero)
        {
            return;
        }

        var session = m_context.Session;
        var exported = session?.ExportSessionParameters();
        if (exported is null)
        {
            return;
        }

        // Under client auth the chain goes with the session (empty when the client sent none), see MayResume.
        var chain = binding.ClientAuth is null ? null : _clientChain ?? [];
        if (!TlsSessionCodec.CanCarry(chain))
        {
            return; // A chain the codec cannot carry: this session simply is not resumable.
        }

        store.Put((byte[])id.Clone(), binding.BindingKey, TlsSessionCodec.Export(Crypto, exported, chain), ttl);
        SessionStored = true;
    }

    private TlsFrontEndBinding RequireBinding()
    {
        if (!_selected)
        {
            // A ClientHello without extensions never reaches ProcessClientExtensions in some paths: no SNI then.
            Select(null);
        }

        return _binding!;
    }

    private void Select(string? serverName)
    {
        _selected = true;
        _serverName = serverName;
        _binding = _selector(serverName);
        if (_binding is null)
        {
            ServerNameRejected = true;
            throw new TlsFatalAlert(AlertDescription.unrecognized_name,
                "no ssl-server for server name '" + (serverName ?? "(none)") + "'");
        }
    }

    private static string? NormaliseHostName(byte[] data)
    {
        if (data.Length == 0)
        {
            return null;
        }

        // RFC 6066 3: HostName is ASCII, without a trailing dot. Lower-case it for lookups.
        string name = Encoding.ASCII.GetString(data).TrimEnd('.');
        return name.Length == 0 ? null : name.ToLowerInvariant();
    }
}
