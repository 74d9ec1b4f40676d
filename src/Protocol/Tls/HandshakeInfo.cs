namespace SslCluster.Protocol.Tls;

/// <summary>What a completed handshake negotiated, read once from the connection when it completes and kept.</summary>
/// <param name="Version">TLS 1.2 or 1.3.</param>
/// <param name="CipherSuite">IANA code of the negotiated suite.</param>
/// <param name="ServerName">SNI host name sent by the client (lower case), or null.</param>
/// <param name="Resumed">True for an abbreviated TLS 1.2 handshake that resumed a stored session.</param>
/// <param name="BindingKey">The session scope of the ssl-server that answered.</param>
/// <param name="Tag">The caller's value from the ssl-server's <see cref="TlsFrontEndBinding"/>.</param>
/// <param name="ClientAuth">
/// The client-certificate outcome (for a resumed session: its stored chain checked again now); null means
/// <see cref="ClientAuthOutcome.NotRequested"/>.
/// </param>
public sealed record HandshakeInfo(
    TlsVersion Version, int CipherSuite, string? ServerName, bool Resumed, string BindingKey, object? Tag,
    ClientAuthOutcome? ClientAuth = null)
{
    /// <summary>Shorthand for the result of <see cref="ClientAuth"/>.</summary>
    public ClientAuthResult ClientAuthResult => ClientAuth?.Result ?? ClientAuthResult.NotRequested;

    /// <summary>IANA name of the negotiated suite.</summary>
    public string CipherSuiteName => TlsCipherSuites.GetName(CipherSuite);

    /// <summary>The TLS 1.2 session ID (hex) the client can resume with; null under TLS 1.3 or without a session.</summary>
    public string? SessionId { get; init; }

    /// <summary>
    /// The session's ID (hex), one the server chose: under TLS 1.2 the session ID of a full handshake or of a
    /// resumption by ID (null for a resumption by ticket, whose ID is the client's); under TLS 1.3 the ID OpenSSL gives
    /// the session of the ticket this connection issued, new on every connection (null when none was issued).
    /// </summary>
    public string? SessionIdentity { get; init; }

    /// <summary>The client's address and port, as the connection was accepted; null where not known.</summary>
    public System.Net.IPEndPoint? Client { get; init; }

    /// <summary>
    /// The certificate we sent (DER, leaf only): of an ssl-server with an RSA and an ECDSA certificate, the one this
    /// client was given. Null where not known.
    /// </summary>
    public byte[]? ServerCertificate { get; init; }

    /// <summary>The application protocol agreed by ALPN (for example "h2"), or null when the client offered none in common.</summary>
    public string? ApplicationProtocol { get; init; }
}
