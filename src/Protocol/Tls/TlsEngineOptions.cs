namespace SslCluster.Protocol.Tls;

/// <summary>
/// Settings shared by every connection of one TLS engine. Immutable; build a new engine to change them.
/// </summary>
public sealed record TlsEngineOptions
{
    /// <summary>Lowest version accepted. Default TLS 1.2.</summary>
    public TlsVersion MinVersion { get; init; } = TlsVersion.Tls12;

    /// <summary>Highest version accepted. Default TLS 1.3.</summary>
    public TlsVersion MaxVersion { get; init; } = TlsVersion.Tls13;

    /// <summary>
    /// How long a TLS 1.2 session stays resumable after the full handshake that created it. Default 5 minutes
    /// (the SSL modules' default <c>sslcache timeout</c> is 300 seconds).
    /// </summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Whether a client that closes TCP without a TLS close_notify is an error. Default false: browsers and HTTP
    /// clients routinely do it, and RFC 8446 6.1 only asks the sender to send it.
    /// </summary>
    public bool RequireClientCloseNotify { get; init; }

    /// <summary>Throws when the options cannot work together.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(MinVersion) || !Enum.IsDefined(MaxVersion))
        {
            throw new ArgumentException("TLS versions must be Tls12 or Tls13.");
        }

        if (MinVersion > MaxVersion)
        {
            throw new ArgumentException($"MinVersion {MinVersion} is above MaxVersion {MaxVersion}.");
        }

        if (SessionTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("SessionTimeout must be positive.");
        }
    }
}
