using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.X509;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// One <c>crl-record</c>: fetches its CRL over HTTP from exactly the configured URL (no redirects, no proxy),
/// accepts it only when the configured CA signed it, and fetches again periodically on a <see cref="TimeProvider"/>
/// timer. A failed fetch keeps the last good copy; until a first good copy exists <see cref="Check"/> answers
/// <see cref="CrlStatus.Unavailable"/>, and the ssl-server's failure action applies. Every such event is logged.
/// <see cref="Check"/> is a lookup in an immutable snapshot, safe from any thread and free of I/O.
/// </summary>
public sealed class CrlMonitor : ICrlSource, IDisposable
{
    /// <summary>Largest CRL accepted; a larger answer is refused rather than buffered.</summary>
    public const int MaxCrlBytes = 16 * 1024 * 1024;

    private readonly Uri _url;
    private readonly string _name;
    private readonly X509Certificate2 _signer;
    private readonly X509Name _signerName;
    private readonly AsymmetricKeyParameter _signerKey;
    private readonly TimeSpan _refresh;
    private readonly TimeSpan _retry;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _timerLock = new();
    private ITimer? _timer;
    private Snapshot? _current;
    private bool _disposed;

    /// <summary>Creates the monitor; nothing is fetched before <see cref="Start"/> or <see cref="RefreshAsync"/>.</summary>
    /// <param name="name">The crl-record's name, for logs.</param>
    /// <param name="url">Where the CRL is published (http).</param>
    /// <param name="signer">The CA certificate that must have signed the CRL.</param>
    /// <param name="refresh">Time between fetches; zero fetches again at the CRL's nextUpdate.</param>
    /// <param name="http">Client used for the fetches (not disposed here).</param>
    /// <param name="time">Clock and timers.</param>
    /// <param name="log">Receives one line per event (fetched, failed, kept last good, none yet).</param>
    /// <param name="retry">Time before another attempt after a failure; one minute when null.</param>
    public CrlMonitor(string name, Uri url, X509Certificate2 signer, TimeSpan refresh, HttpClient http,
        TimeProvider time, Action<string>? log = null, TimeSpan? retry = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(time);
        if (url.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException("a CRL is fetched over plain http only", nameof(url));
        }

        _name = name;
        _url = url;
        _signer = signer;
        _http = http;
        _time = time;
        _log = log ?? (_ => { });
        _refresh = refresh < TimeSpan.Zero ? TimeSpan.Zero : refresh;
        _retry = retry ?? TimeSpan.FromMinutes(1);
        var bcSigner = new X509CertificateParser().ReadCertificate(signer.RawData);
        _signerName = bcSigner.SubjectDN;

        // Built once: BouncyCastle validates an RSA modulus each time it builds the key (about 16 ms for 2048 bits).
        _signerKey = bcSigner.GetPublicKey();
        Id = $"{name}({url}, signed by {signer.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)[..16]})";
        if (signer.NotAfter.ToUniversalTime() < time.GetUtcNow().UtcDateTime)
        {
            // CSCin70309 reset the SSLM in this situation. Here it is only worth a warning: the signature still
            // verifies, and whether an expired CA is trusted for clients is the chain check's business.
            _log($"CRL {_name}: signing certificate '{signer.Subject}' expired on {signer.NotAfter.ToUniversalTime():u}; its CRLs are still checked against it");
        }
    }

    /// <inheritdoc />
    public string Id { get; }

    /// <summary>thisUpdate of the CRL in use, or null before the first good fetch.</summary>
    public DateTimeOffset? ThisUpdate => Volatile.Read(ref _current)?.ThisUpdate;

    /// <summary>nextUpdate of the CRL in use, if it has one.</summary>
    public DateTimeOffset? NextUpdate => Volatile.Read(ref _current)?.NextUpdate;

    /// <summary>Number of serial numbers the CRL in use lists.</summary>
    public int RevokedCount => Volatile.Read(ref _current)?.Serials.Count ?? 0;

    /// <summary>Fetches now and then keeps fetching on schedule until disposed.</summary>
    public void Start() => Schedule(TimeSpan.Zero);

    /// <inheritdoc />
    public CrlStatus Check(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var current = Volatile.Read(ref _current);
        if (current is null)
        {
            return CrlStatus.Unavailable;
        }

        if (!certificate.IssuerName.RawData.AsSpan().SequenceEqual(current.IssuerDer) &&
            !X509Name.GetInstance(certificate.IssuerName.RawData).Equivalent(current.Issuer))
        {
            return CrlStatus.NotCovered;
        }

        var serial = new BigInteger(certificate.SerialNumberBytes.ToArray());
        return current.Serials.Contains(serial) ? CrlStatus.Revoked : CrlStatus.Good;
    }

    /// <summary>
    /// One fetch: download, parse, check issuer, signature and dates, then replace the copy in use. True when a new
    /// copy is in use; false (logged) when the previous one, if any, is kept.
    /// </summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        string? problem;
        try
        {
            byte[] body = await DownloadAsync(cancellationToken);
            problem = Accept(body);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or CrlException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            problem = e is TaskCanceledException ? "timed out" : e.Message;
        }

        if (problem is null)
        {
            return true;
        }

        var kept = Volatile.Read(ref _current);
        _log(kept is null
            ? $"CRL {_name}: fetching {_url} failed ({problem}); no valid CRL yet, so client certificates checked against it get the ssl-server's failure action (result RevocationUnavailable)"
            : $"CRL {_name}: fetching {_url} failed ({problem}); keeping the CRL of {kept.ThisUpdate:u} ({kept.Serials.Count} revoked)");
        return false;
    }

    /// <summary>Time until the next fetch: the configured period, else the CRL's nextUpdate (1 minute to 1 day), else a day.</summary>
    internal static TimeSpan NextDelay(bool succeeded, TimeSpan refresh, TimeSpan retry, DateTimeOffset now, DateTimeOffset? nextUpdate)
    {
        if (!succeeded)
        {
            return refresh > TimeSpan.Zero && refresh < retry ? refresh : retry;
        }

        if (refresh > TimeSpan.Zero)
        {
            return refresh;
        }

        if (nextUpdate is not { } next)
        {
            return TimeSpan.FromDays(1);
        }

        var wait = next - now;
        return wait < TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : wait > TimeSpan.FromDays(1) ? TimeSpan.FromDays(1) : wait;
    }

    /// <summary>Stops the timer; a fetch in progress is cancelled.</summary>
    public void Dispose()
    {
        lock (_timerLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer?.Dispose();
        }

        _stop.Cancel();
        _stop.Dispose();
    }

    private void Schedule(TimeSpan due)
    {
        lock (_timerLock)
        {
            if (_disposed)
            {
                return;
            }

            _timer?.Dispose();
            _timer = _time.CreateTimer(_ => _ = RunScheduledAsync(), null, due, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task RunScheduledAsync()
    {
        bool ok;
        try
        {
            ok = await RefreshAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return; // Disposed.
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        Schedule(NextDelay(ok, _refresh, _retry, _time.GetUtcNow(), NextUpdate));
    }

    private async Task<byte[]> DownloadAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(_url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new CrlException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        // Bounded by MaxCrlBytes whatever the server claims.
        return await BoundedHttpBody.ReadAsync(response, MaxCrlBytes, _ => new CrlException($"the CRL is larger than {MaxCrlBytes} bytes"), cancellationToken);
    }

    /// <summary>Checks a downloaded CRL and puts it in use; the reason when it is refused.</summary>
    private string? Accept(byte[] body)
    {
        var (list, problem) = CrlList.Read(body, _signerName, _signerKey, _signer.Subject, _time.GetUtcNow());
        if (list is null) return problem;
        var current = Volatile.Read(ref _current);
        if (current is not null && list.ThisUpdate < current.ThisUpdate)
        {
            // An older list than the one in use would bring revoked certificates back to life.
            return $"it is older ({list.ThisUpdate:u}) than the CRL in use ({current.ThisUpdate:u})";
        }

        Volatile.Write(ref _current, new Snapshot(list.Issuer, list.Issuer.GetEncoded(), list.Serials, list.ThisUpdate, list.NextUpdate));
        var stale = list.NextUpdate < _time.GetUtcNow() ? $"; note: its nextUpdate {list.NextUpdate:u} has passed, the CA has not published a newer one" : "";
        _log(string.Create(CultureInfo.InvariantCulture,
            $"CRL {_name}: fetched from {_url}, {list.Serials.Count} revoked, thisUpdate {list.ThisUpdate:u}{(list.NextUpdate is { } n ? $", nextUpdate {n:u}" : "")}{stale}"));
        return null;
    }

    private sealed record Snapshot(X509Name Issuer, byte[] IssuerDer, HashSet<BigInteger> Serials, DateTimeOffset ThisUpdate, DateTimeOffset? NextUpdate);

    private sealed class CrlException(string message) : Exception(message);
}
