namespace SslCluster.Protocol.Tls;

/// <summary>
/// What one ssl-server contributes to a handshake: its credential, the cipher suites it offers (already filtered
/// by <see cref="TlsCipherSuites.Filter"/>), the key that scopes its resumable sessions, and an opaque tag for
/// the caller (typically the ssl-server's configuration record, to find its clear-text destination). Immutable;
/// build one per ssl-server per configuration revision.
/// </summary>
public sealed class TlsFrontEndBinding
{
    /// <summary>Builds a binding. <paramref name="cipherSuites"/> null means the default modern set.</summary>
    /// <param name="credential">The ssl-server's certificate chain and key.</param>
    /// <param name="bindingKey">
    /// Scope of session resumption, for example "context/proxylist/ssl-server 100": a session is only ever resumed
    /// by a binding with the same key. Include everything that must match (client-auth policy, ...).
    /// </param>
    /// <param name="cipherSuites">Requested IANA cipher suites in preference order, or null for the defaults.</param>
    /// <param name="tag">Anything the caller wants back in <see cref="HandshakeInfo.Tag"/>.</param>
    /// <param name="secondCredential">
    /// A second certificate of the other key type (an ssl-server with an ECDSA and an RSA pair): both are loaded, and
    /// OpenSSL gives each client the one its signature algorithms and suites allow, the first one when both do.
    /// </param>
    public TlsFrontEndBinding(ServerCredential credential, string bindingKey, IEnumerable<int>? cipherSuites = null,
        object? tag = null, ServerCredential? secondCredential = null)
    {
        ArgumentNullException.ThrowIfNull(credential);
        ArgumentException.ThrowIfNullOrEmpty(bindingKey);
        if (secondCredential is not null && secondCredential.KeyType == credential.KeyType)
        {
            throw new ArgumentException($"the second certificate of an ssl-server must have the other key type, not {credential.KeyType} again", nameof(secondCredential));
        }

        Credential = credential;
        SecondCredential = secondCredential;
        _bindingKey = bindingKey;
        Tag = tag;
        var requested = cipherSuites?.ToList();
        Suites = TlsCipherSuites.Filter(requested, credential.KeyType, out var rejected, out bool usedDefaults);
        if (secondCredential is not null)
        {
            // The suites either certificate can serve, the first certificate's first (server preference).
            var second = TlsCipherSuites.Filter(requested, secondCredential.KeyType, out var rejectedToo, out bool usedDefaultsToo);
            Suites = [.. Suites, .. second.Where(s => !Suites.Contains(s))];
            rejected = [.. rejected.Where(r => rejectedToo.Any(t => t.Suite == r.Suite))];
            usedDefaults |= usedDefaultsToo;
        }

        RejectedCipherSuites = rejected;
        UsedDefaultSuites = usedDefaults;
    }

    /// <summary>The ssl-server's certificate chain and key.</summary>
    public ServerCredential Credential { get; }

    /// <summary>The ssl-server's certificate of the other key type, when it has both; null otherwise.</summary>
    public ServerCredential? SecondCredential { get; }

    /// <summary>
    /// How long a TLS 1.2 session of this binding stays resumable (the ssl-server's <c>session-cache</c>); null uses
    /// the engine's default, zero caches nothing.
    /// </summary>
    public TimeSpan? SessionTimeout { get; init; }

    /// <summary>
    /// Session resumption scope: the constructor's key, followed by the client-auth policy's scope when there is one,
    /// so that a session never resumes under another CA set, failure action or CRL than the one it was made under.
    /// </summary>
    public string BindingKey => _scopedKey ??= ClientAuth is null ? _bindingKey : _bindingKey + "|" + ClientAuth.ScopeKey;

    /// <summary>
    /// Client authentication of this ssl-server, or null when clients are not asked for a certificate. Part of
    /// <see cref="BindingKey"/>.
    /// </summary>
    public ClientAuthPolicy? ClientAuth { get; init; }

    /// <summary>
    /// The OCSP response to staple for the first certificate when a client asks and the handshake uses it, read on each
    /// such handshake; null staples nothing.
    /// </summary>
    public Func<byte[]?>? StatusResponse { get; init; }

    /// <summary>The same for <see cref="SecondCredential"/> (the RSA certificate of an ssl-server that has both).</summary>
    public Func<byte[]?>? SecondStatusResponse { get; init; }

    /// <summary>The ALPN protocols answered, in preference order (see <see cref="Config.SslServer.Alpn"/>); empty answers none.</summary>
    public IReadOnlyList<string> ApplicationProtocols { get; init; } = ["http/1.1"];

    /// <summary>Caller's opaque value, handed back after the handshake.</summary>
    public object? Tag { get; }

    /// <summary>The suites really offered, in preference order.</summary>
    public IReadOnlyList<int> CipherSuites => Suites;

    /// <summary>Requested suites that are refused, with reasons, so the caller can warn about them.</summary>
    public IReadOnlyList<RejectedCipherSuite> RejectedCipherSuites { get; }

    /// <summary>True when nothing requested was usable for TLS 1.2 and the defaults were used instead.</summary>
    public bool UsedDefaultSuites { get; }

    internal int[] Suites { get; }

    /// <summary>
    /// This ssl-server's OpenSSL context (certificate, suites, session scope), built on first use and then shared by
    /// every connection. Released by its SafeHandle once the binding is collected; connections hold OpenSSL's own
    /// references meanwhile.
    /// </summary>
    internal OpenSsl.SslContext OpenSslContext()
    {
        if (Volatile.Read(ref _openSsl) is { } built)
        {
            return built;
        }

        lock (_openSslLock)
        {
            if (_openSsl is null)
            {
                var (cipherList, cipherSuites) = TlsCipherSuites.ToOpenSsl(Suites);
                byte[] key = Credential.ExportPrivateKeyPkcs8();
                byte[]? secondKey = SecondCredential?.ExportPrivateKeyPkcs8();
                try
                {
                    Volatile.Write(ref _openSsl, OpenSsl.SslContext.CreateServer(new OpenSsl.ServerContextOptions
                    {
                        Certificates = SecondCredential is { } second
                            ?
                            [
                                new OpenSsl.ServerCertificate(Credential.ChainDer, key) { StatusResponse = StatusResponse },
                                new OpenSsl.ServerCertificate(second.ChainDer, secondKey!) { StatusResponse = SecondStatusResponse },
                            ]
                            : [new OpenSsl.ServerCertificate(Credential.ChainDer, key) { StatusResponse = StatusResponse }],
                        CipherList = cipherList,
                        CipherSuites = cipherSuites,
                        SessionIdContext = BindingKey,
                        ClientCertificates = ClientAuth is { } policy ? ClientCertificatesOf(policy) : null,
                        ApplicationProtocols = ApplicationProtocols,
                    }, this));
                }
                finally
                {
                    System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
                    if (secondKey is not null)
                    {
                        System.Security.Cryptography.CryptographicOperations.ZeroMemory(secondKey);
                    }
                }
            }

            return _openSsl!;
        }
    }

    /// <summary>
    /// The ssl-server's client authentication for OpenSSL: our policy decides from the verify callback; under reject
    /// a failed certificate refuses the handshake with the outcome's alert, under ignore and redirect it goes on.
    /// </summary>
    private static OpenSsl.ClientCertificateOptions ClientCertificatesOf(ClientAuthPolicy policy) => new()
    {
        AuthorityNames = [.. policy.TrustedCas.Select(c => c.SubjectName.RawData)],
        Require = policy.Failure is Config.ClientAuthFailureAction.Reject or Config.ClientAuthFailureAction.IgnoreRevoked,
        Verify = chain =>
        {
            var outcome = policy.Verify(chain);
            bool refuse = policy.Refuses(outcome);
            return new OpenSsl.CertificateVerdict(!refuse, outcome.AlertFor(tls13: true), outcome);
        },
    };

    private readonly string _bindingKey;
    private readonly Lock _openSslLock = new();
    private string? _scopedKey;
    private OpenSsl.SslContext? _openSsl;
}

/// <summary>
/// Chooses the ssl-server for a handshake from the SNI host name (lower case, no trailing dot; null when the client
/// sent none). Returning null refuses the handshake with an unrecognized_name alert. Called on the connection's
/// thread during the handshake: keep it a lookup in an immutable snapshot.
/// </summary>
public delegate TlsFrontEndBinding? TlsBindingSelector(string? serverName);
