using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// Builds the <see cref="ClientAuthPolicy"/> of each ssl-server from its plan and the certificate store, and owns
/// the CRL monitors. A monitor is shared by every ssl-server (and every revision) naming the same URL, signing
/// certificate and period, so a configuration change neither fetches again nor forgets the last good CRL.
/// </summary>
internal sealed class ClientAuthPolicies : IDisposable
{
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(30);

    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly HttpClient _http;
    private readonly LeaseCache<(string Url, string Signer, int Hours), CrlMonitor> _crls = new();

    // Few and small (one per responder setting), so kept for the node's life rather than leased.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, OcspResponderCache> _ocsp = new(StringComparer.Ordinal);

    public ClientAuthPolicies(TimeProvider time, Action<string> log)
    {
        _time = time;
        _log = log;

        // Only what the crl-record names is contacted: no redirect to elsewhere, no proxy from the environment.
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false }) { Timeout = FetchTimeout };
        _cdp = new CdpCrlCache(_http, time, log);
    }

    // One per node: a distribution point's list serves every ssl-server whose clients name it.
    private readonly CdpCrlCache _cdp;

    /// <summary>The policy of <paramref name="server"/>, or null when it does not authenticate clients.</summary>
    public ClientAuthPolicy? For(SslServerPlan server, IReadOnlyDictionary<string, byte[]> files, RuntimeLeases leases)
    {
        if (server.ClientAuth is not { } plan) return null;
        var who = $"ssl-server {server.Server.Number} of {server.ProxyList}";
        var cas = plan.CaCertFiles.Select(f => Certificate(files, f, who, "cacert")).ToList();
        ICrlSource? crl = plan.Crl is { } c ? Monitor(c, Certificate(files, c.SignCertFile, who, $"crl-record {c.Name} signing certificate"), leases) : null;
        var ocsp = plan.Revocation.Contains(RevocationMethod.Ocsp) ? Ocsp(plan.OcspUrl) : null;
        // One CA certificate may sit in two store files: either file's map authorizes.
        var maps = plan.Authorizations
            .GroupBy(a => Certificate(files, a.Key, who, "cacert").GetCertHashString(HashAlgorithmName.SHA256), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<PkiCertificateMap>)[.. g.Select(a => a.Value)], StringComparer.OrdinalIgnoreCase);
        // A CRL without a crl-record (an SSLM trustpoint's revocation-check crl): each certificate's distribution point.
        var cdp = plan.Revocation.Contains(RevocationMethod.Crl) && crl is null ? _cdp : null;
        return new ClientAuthPolicy(cas, plan.Failure, plan.FailureUrl, crl, _time, plan.Revocation.Count > 0 ? plan.Revocation : null, ocsp, maps, cdp, plan.CertTrim);
    }

    /// <summary>The OCSP answers of a responder setting (a URL, or each certificate's own), shared by every ssl-server using it.</summary>
    private OcspResponderCache Ocsp(string? url) => _ocsp.GetOrAdd(url ?? "", key => new OcspResponderCache(
        key.Length == 0 ? null : new Uri(key, UriKind.Absolute), _http, _time, _log));

    /// <summary>CRL monitors running now (each fetches its CRL periodically).</summary>
    public int Running => _crls.Count;

    /// <summary>The monitor of a CRL record, leased by a runtime: it stops fetching once no runtime leases it.</summary>
    private CrlMonitor Monitor(CrlPlan plan, X509Certificate2 signer, RuntimeLeases leases)
    {
        if (!Uri.TryCreate(plan.Url, UriKind.Absolute, out var url))
            throw new InvalidOperationException($"crl-record {plan.Name}: '{plan.Url}' is not a URL");
        var key = (plan.Url, signer.GetCertHashString(HashAlgorithmName.SHA256), plan.RefreshHours);
        if (_crls.TryLease(key, leases) is { } held) return held;
        var monitor = new CrlMonitor(plan.Name, url, signer, TimeSpan.FromHours(plan.RefreshHours), _http, _time, _log);
        var kept = _crls.LeaseOrAdd(key, monitor, leases);
        // Only the monitor kept fetches; one made at the same time for the same record is never started.
        if (ReferenceEquals(kept, monitor)) monitor.Start();
        else monitor.Dispose();
        return kept;
    }

    internal static X509Certificate2 Certificate(IReadOnlyDictionary<string, byte[]> files, string file, string who, string what)
    {
        if (!files.TryGetValue(file, out var bytes))
            throw new InvalidOperationException($"{who}: {what} file '{file}' is not in the certificate store");
        var stored = CertStoreFile.DecodeShared(bytes);
        if (stored.Kind != CertStoreFileKind.Certificate)
            throw new InvalidOperationException($"{who}: {what} file '{file}' is not a certificate");
        return X509CertificateLoader.LoadCertificate(stored.CertificateDer.Span);
    }

    public void Dispose()
    {
        _crls.Dispose();
        foreach (var ocsp in _ocsp.Values) ocsp.Dispose();
        _cdp.Dispose();
        _http.Dispose();
    }
}
