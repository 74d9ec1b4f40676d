using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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
    private readonly Dictionary<(string Url, string Signer, int Hours), Leased<CrlMonitor>> _crls = [];
    private readonly Lock _gate = new();

    public ClientAuthPolicies(TimeProvider time, Action<string> log)
    {
        _time = time;
        _log = log;

        // Only what the crl-record names is contacted: no redirect to elsewhere, no proxy from the environment.
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false }) { Timeout = FetchTimeout };
    }

    /// <summary>The policy of <paramref name="server"/>, or null when it does not authenticate clients.</summary>
    public ClientAuthPolicy? For(SslServerPlan server, IReadOnlyDictionary<string, byte[]> files, RuntimeLeases leases)
    {
        if (server.ClientAuth is not { } plan) return null;
        var who = $"ssl-server {server.Server.Number} of {server.ProxyList}";
        var cas = plan.CaCertFiles.Select(f => Certificate(files, f, who, "cacert")).ToList();
        ICrlSource? crl = plan.Crl is { } c ? Monitor(c, Certificate(files, c.SignCertFile, who, $"crl-record {c.Name} signing certificate"), leases) : null;
        return new ClientAuthPolicy(cas, plan.Failure, plan.FailureUrl, crl, _time);
    }

    /// <summary>CRL monitors running now (each fetches its CRL periodically).</summary>
    public int Running
    {
        get
        {
            lock (_gate) return _crls.Count;
        }
    }

    /// <summary>The monitor of a CRL record, leased by a runtime: it stops fetching once no runtime leases it.</summary>
    private CrlMonitor Monitor(CrlPlan plan, X509Certificate2 signer, RuntimeLeases leases)
    {
        if (!Uri.TryCreate(plan.Url, UriKind.Absolute, out var url))
            throw new InvalidOperationException($"crl-record {plan.Name}: '{plan.Url}' is not a URL");
        var key = (plan.Url, signer.GetCertHashString(HashAlgorithmName.SHA256), plan.RefreshHours);
        lock (_gate)
        {
            if (!_crls.TryGetValue(key, out var entry))
            {
                var monitor = new CrlMonitor(plan.Name, url, signer, TimeSpan.FromHours(plan.RefreshHours), _http, _time, _log);
                _crls.Add(key, entry = new Leased<CrlMonitor>(monitor));
                monitor.Start();
            }
            entry.Leases++;
            leases.Add(() =>
            {
                lock (_gate)
                {
                    if (--entry.Leases > 0 || !_crls.TryGetValue(key, out var current) || !ReferenceEquals(current, entry)) return;
                    _crls.Remove(key);
                }
                entry.Value.Dispose();
            });
            return entry.Value;
        }
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
        lock (_gate)
        {
            foreach (var monitor in _crls.Values) monitor.Value.Dispose();
            _crls.Clear();
        }
        _http.Dispose();
    }
}
