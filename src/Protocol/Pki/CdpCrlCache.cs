using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;
using SslCluster.Protocol.Tls;
using BcParser = Org.BouncyCastle.X509.X509CertificateParser;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// The CRL check of a trustpoint's <c>revocation-check crl</c> (the SSLM face): the list is the one the client
/// certificate names in its CRL Distribution Points (the first http URL), signed by the certificate's issuer. Lists
/// are fetched when first needed, one fetch per list at a time bounded by <see cref="FetchTimeout"/>, and kept until
/// their nextUpdate (an hour when they give none); a failed fetch stands for <see cref="FailureHold"/>. The handshake
/// never waits: <see cref="Cached"/> is a lookup in memory, and a connection whose list is not known yet waits for
/// <see cref="FetchAsync"/> after its handshake, as an OCSP question does.
/// </summary>
public sealed class CdpCrlCache : IDisposable
{
    public static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan FailureHold = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan WithoutNextUpdate = TimeSpan.FromHours(1);

    /// <summary>Largest CRL accepted from a distribution point.</summary>
    public const int MaxCrlBytes = CrlMonitor.MaxCrlBytes;

    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    // Lists can be large (up to MaxCrlBytes each): few are kept; real clients name a handful of distribution points.
    private readonly BoundedLruCache<string, (CrlList? List, string? Problem, DateTimeOffset Until)> _lists = new(64);
    private readonly ConcurrentDictionary<string, Lazy<Task>> _fetching = new(StringComparer.Ordinal);

    // The thisUpdate of the newest list seen per distribution point and issuer, kept longer than the lists themselves.
    private readonly BoundedLruCache<string, DateTimeOffset> _newest = new(4096);
    private int _fetched;

    public CdpCrlCache(HttpClient http, TimeProvider time, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
        _time = time ?? TimeProvider.System;
        _log = log ?? (_ => { });
    }

    /// <summary>Identifies the source in session scopes.</summary>
    public static string Id => "cdp";

    /// <summary>Lists fetched so far (for tests).</summary>
    public int Fetched => Volatile.Read(ref _fetched);

    /// <summary>
    /// What the list known now says about <paramref name="leaf"/>: Good or Revoked; Unavailable when the certificate
    /// names no http distribution point or the last fetch failed; null when the list must be fetched.
    /// </summary>
    public CrlStatus? Cached(X509Certificate2 leaf, X509Certificate2 issuer)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(issuer);
        return PointOf(leaf) is { } url ? Known(url, leaf, issuer) : CrlStatus.Unavailable;
    }

    /// <summary>What the list of <paramref name="url"/> known now says about <paramref name="leaf"/>; null when it must be fetched.</summary>
    private CrlStatus? Known(Uri url, X509Certificate2 leaf, X509Certificate2 issuer)
    {
        if (!_lists.TryGet(Key(url, issuer), out var known) || known.Until <= _time.GetUtcNow()) return null;
        if (known.List is not { } list) return CrlStatus.Unavailable;
        return list.Serials.Contains(new BigInteger(leaf.SerialNumberBytes.ToArray())) ? CrlStatus.Revoked : CrlStatus.Good;
    }

    /// <summary>Fetches the leaf's list unless it is known (one fetch per list at a time); never throws for the server's faults.</summary>
    public Task FetchAsync(X509Certificate2 leaf, X509Certificate2 issuer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(issuer);
        // The distribution point is read once: a certificate that names none has nothing to fetch.
        if (PointOf(leaf) is not { } url || Known(url, leaf, issuer) is not null) return Task.CompletedTask;
        var key = Key(url, issuer);
        var issuerDer = issuer.RawData;
        // The fetch knows its own entry before anyone can run it, so its end always removes that entry.
        Lazy<Task>? candidate = null;
        candidate = new Lazy<Task>(() => FetchOnceAsync(key, url, issuerDer, candidate!));
        return _fetching.GetOrAdd(key, candidate).Value.WaitAsync(cancellationToken);
    }

    private async Task FetchOnceAsync(string key, Uri url, byte[] issuerDer, Lazy<Task> self)
    {
        await Task.Yield();
        CrlList? list = null;
        string? problem;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(FetchTimeout);
            Interlocked.Increment(ref _fetched);
            using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                problem = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
            }
            else
            {
                var body = await BoundedHttpBody.ReadAsync(response, MaxCrlBytes, _ => new InvalidDataException($"the CRL is larger than {MaxCrlBytes} bytes"), timeout.Token);
                var issuer = new BcParser().ReadCertificate(issuerDer);
                var read = _time.GetUtcNow();
                (list, problem) = CrlList.Read(body, issuer.SubjectDN, issuer.GetPublicKey(), issuer.SubjectDN.ToString(), read);
                if (list is { NextUpdate: { } next } && next <= read)
                {
                    // A list past its nextUpdate says nothing about revocations since: a replayed old list must not pass.
                    (list, problem) = (null, $"its nextUpdate {next:u} has passed");
                }
                else if (list is { } fresh && _newest.TryGet(key, out var newest) && fresh.ThisUpdate < newest)
                {
                    // An older list than one already seen would bring revoked certificates back to life.
                    (list, problem) = (null, $"it is older ({fresh.ThisUpdate:u}) than the one seen before ({newest:u})");
                }
            }
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            problem = $"no answer within {FetchTimeout.TotalSeconds:0} s";
        }
#pragma warning disable CA1031 // A fetch that fails in any way is an unavailable list: the revocation order decides what follows.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            problem = e.Message;
        }

        var now = _time.GetUtcNow();
        var until = list is null ? now + FailureHold : list.NextUpdate ?? now + WithoutNextUpdate;
        _lists.Set(key, (list, problem, until));
        if (list is not null) _newest.Set(key, list.ThisUpdate);
        _fetching.TryRemove(new KeyValuePair<string, Lazy<Task>>(key, self));
        if (list is null && !_stop.IsCancellationRequested)
        {
            _log($"CRL of a client certificate from {url}: {problem}; fetched again after {FailureHold.TotalSeconds:0} s");
        }
    }

    /// <summary>The first http(s) URL of the certificate's CRL Distribution Points, or null.</summary>
    public static Uri? PointOf(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var extension = certificate.Extensions["2.5.29.31"];
        if (extension is null) return null;
        try
        {
            foreach (var point in CrlDistPoint.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(extension.RawData)).GetDistributionPoints())
            {
                if (point.DistributionPointName is not { Type: DistributionPointName.FullName } name) continue;
                foreach (var general in GeneralNames.GetInstance(name.Name).GetNames())
                {
                    if (general.TagNo == GeneralName.UniformResourceIdentifier &&
                        Uri.TryCreate(general.Name.ToString(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                        return uri;
                }
            }
        }
#pragma warning disable CA1031 // Whatever a hostile extension makes the parser throw, it names no list.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            // A damaged extension names no list: the check is unavailable, never an exception in a handshake.
        }

        return null;
    }

    private static string Key(Uri url, X509Certificate2 issuer) => url + "|" + issuer.GetCertHashString(HashAlgorithmName.SHA256);

    public void Dispose()
    {
        if (!_stop.IsCancellationRequested) _stop.Cancel();
        _stop.Dispose();
    }
}
