using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Cli;

/// <summary>
/// The HttpClient sslctl talks to a node's admin endpoint with. A remote node serves HTTPS with a certificate of the
/// operator's own CA: with <c>caFile</c>, those CAs alone are trusted for it (the system's roots are not, so that a
/// public CA's certificate for the same name cannot stand in for the node); without, the system's trust store is.
/// The host name is checked either way, and there is no way to accept any certificate: the bearer token goes to
/// whoever answers.
/// </summary>
internal static class AdminHttp
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <param name="baseUri">The endpoint (http or https).</param>
    /// <param name="caFile">A PEM file of one or more CA certificates that the node's certificate must chain to; https only.</param>
    /// <exception cref="ArgumentException">The CA file is missing or holds no certificate, or is given for an http endpoint.</exception>
    public static HttpClient Create(Uri baseUri, string? caFile, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(baseUri);
        var handler = new SocketsHttpHandler();
        if (caFile is not null)
        {
            // The token would go in clear text whatever the CA: say so rather than ignore the CA.
            if (baseUri.Scheme != Uri.UriSchemeHttps)
                throw new ArgumentException($"a CA file ({caFile}) verifies an https endpoint; '{baseUri}' is not https", nameof(caFile));
            handler.SslOptions.CertificateChainPolicy = ChainPolicy(LoadCas(caFile));
        }
        return new HttpClient(handler) { BaseAddress = baseUri, Timeout = timeout };
    }

    private static X509Certificate2Collection LoadCas(string caFile)
    {
        var cas = new X509Certificate2Collection();
        try
        {
            cas.ImportFromPemFile(caFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ArgumentException($"cannot read the CA file '{caFile}': {e.Message}", nameof(caFile), e);
        }
        if (cas.Count == 0)
            throw new ArgumentException($"the CA file '{caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", nameof(caFile));
        return cas;
    }

    /// <summary>
    /// A chain policy replaces SslStream's own, so what that one checks is said again here: a server certificate (EKU),
    /// no revocation lookup (as HttpClient's default; a private CA seldom publishes a CRL), no downloads.
    /// </summary>
    private static X509ChainPolicy ChainPolicy(X509Certificate2Collection cas)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(cas);
        policy.ApplicationPolicy.Add(ServerAuthentication);
        return policy;
    }
}
