using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// How we act as a TLS client towards one real server (a <c>backend-server</c> of a proxy list): the suites we offer,
/// the lowest version, the client certificate presented when the server asks for one (<c>rsakey</c>/<c>rsacert</c>),
/// the CAs its certificate must chain to (<c>cacert</c>; none means the server is not verified and <c>show</c>
/// says so), and how long a session is reused (<c>session-cache</c>, the reference's "session key re-use").
/// Immutable; built once per backend-server per configuration revision and shared by its connections.
/// </summary>
public sealed class BackendTlsProfile
{
    /// <param name="cacheKey">Scopes session reuse: one backend-server, one real server, one set of settings.</param>
    /// <param name="cipherSuites">Requested IANA suites in preference order; null or none usable gives the defaults.</param>
    /// <param name="minimumVersion">TLS 1.3 offers TLS 1.3 only; TLS 1.2 offers TLS 1.2 (session reuse).</param>
    /// <param name="clientCredential">Presented when the server requests a certificate; null sends none.</param>
    /// <param name="trustedCas">The server's chain must end at one of these; null accepts any certificate.</param>
    /// <param name="sessionTimeout">How long a TLS 1.2 session is offered again; zero disables reuse.</param>
    /// <param name="serverName">SNI host name to send; null for servers addressed by IP.</param>
    public BackendTlsProfile(string cacheKey, IEnumerable<int>? cipherSuites, TlsVersion minimumVersion,
        ServerCredential? clientCredential, IReadOnlyList<X509Certificate2>? trustedCas, TimeSpan sessionTimeout,
        string? serverName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cacheKey);
        CacheKey = cacheKey;
        MinimumVersion = minimumVersion;
        ClientCredential = clientCredential;
        TrustedCas = trustedCas is null ? null : [.. trustedCas];
        SessionTimeout = sessionTimeout < TimeSpan.Zero ? TimeSpan.Zero : sessionTimeout;
        ServerName = serverName;
        Suites = ClientSuites(cipherSuites);
    }

    public string CacheKey { get; }

    public TlsVersion MinimumVersion { get; }

    public ServerCredential? ClientCredential { get; }

    public X509Certificate2Collection? TrustedCas { get; }

    public bool VerifiesServer => TrustedCas is { Count: > 0 };

    public TimeSpan SessionTimeout { get; }

    public string? ServerName { get; }

    /// <summary>
    /// The DNS name or IP address the server's certificate must carry (subjectAltName) when <see cref="TrustedCas"/>
    /// verifies it; null checks no name.
    /// </summary>
    public string? ExpectedName { get; init; }

    /// <summary>
    /// The SSLM's <c>authenticate verify signature-only</c>: the chain must end at a trusted CA, and neither its dates
    /// nor <see cref="ExpectedName"/> are checked.
    /// </summary>
    public bool SignatureOnly { get; init; }

    /// <summary>The suites offered, in preference order (TLS 1.3 suites first, always present).</summary>
    public IReadOnlyList<int> CipherSuites => Suites;

    internal int[] Suites { get; }

    /// <summary>
    /// This backend-server's OpenSSL client context, built on first use: the versions, suites and client
    /// certificate of the backend-server, the server's chain checked by <see cref="ServerChainCheck"/>, and every
    /// session the server gives us kept in <paramref name="sessions"/> under <see cref="CacheKey"/>.
    /// </summary>
    internal OpenSsl.SslContext OpenSslContext(OpenSslBackendSessions sessions)
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
                byte[]? key = ClientCredential?.ExportPrivateKeyPkcs8();
                try
                {
                    Volatile.Write(ref _openSsl, OpenSsl.SslClient.CreateContext(new OpenSsl.ClientContextOptions
                    {
                        MinVersion = MinimumVersion == TlsVersion.Tls13 ? 0x0304 : 0x0303,

                        // TLS 1.2 towards a real server unless it says version tls1.3 (the reference's servers speak 1.2).
                        MaxVersion = MinimumVersion == TlsVersion.Tls13 ? 0x0304 : 0x0303,
                        CipherList = cipherList,
                        CipherSuites = cipherSuites,
                        ClientCertificate = ClientCredential is { } credential ? new OpenSsl.ServerCertificate(credential.ChainDer, key!) : null,
                        VerifyServer = chain =>
                        {
                            var check = ServerChainCheck.Check(this, chain, DateTime.UtcNow);
                            return new OpenSsl.CertificateVerdict(check.Problem is null, check.Alert, check);
                        },
                        RequireVerdict = VerifiesServer,
                        SessionReceived = SessionTimeout > TimeSpan.Zero ? der => sessions.Put(CacheKey, der, SessionTimeout) : null,
                    }, this));
                }
                finally
                {
                    if (key is not null)
                    {
                        System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
                    }
                }
            }

            return _openSsl!;
        }
    }

    private readonly Lock _openSslLock = new();
    private OpenSsl.SslContext? _openSsl;

    /// <summary>
    /// A client offers suites for any server key type, so the server-side filter does not apply: keep what policy
    /// allows (TlsCipherSuites.IsSupported: ECDHE, AEAD), add TLS 1.3's, fall back to the defaults when nothing
    /// for TLS 1.2 is left (a configuration naming only RC4 suites, as the reference's samples do).
    /// </summary>
    private static int[] ClientSuites(IEnumerable<int>? requested)
    {
        var keep = TlsCipherSuites.Tls13.ToList();
        foreach (int suite in requested ?? [])
        {
            if (TlsCipherSuites.IsSupported(suite) && !keep.Contains(suite))
            {
                keep.Add(suite);
            }
        }

        if (keep.Count == TlsCipherSuites.Tls13.Count)
        {
            keep.AddRange(TlsCipherSuites.Tls12Ecdsa);
            keep.AddRange(TlsCipherSuites.Tls12Rsa);
        }

        return [.. keep];
    }
}
