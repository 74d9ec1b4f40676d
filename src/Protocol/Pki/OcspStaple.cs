using Org.BouncyCastle.Ocsp;
using Org.BouncyCastle.X509;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// The OCSP response an ssl-server staples to its handshakes (RFC 6066 status_request), kept fresh in the background:
/// fetched from the certificate's responder (its Authority Information Access URL), checked (signed by the issuer or
/// a responder it delegated to, for this certificate, "good", inside thisUpdate..nextUpdate), and refreshed halfway
/// to nextUpdate; a failed fetch keeps the last good response until its nextUpdate and retries within minutes. A
/// handshake only reads <see cref="Current"/>: the responder is never on the handshake path.
/// </summary>
public sealed class OcspStaple : IDisposable
{
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(5);

    /// <summary>
    /// After the Nth failure in a row: 2 s, 4 s, 8 s... up to <see cref="RetryAfterFailure"/>, so that a responder that
    /// was briefly unreachable (busy, restarting) is asked again soon, and one that stays down is not hammered.
    /// </summary>
    internal static TimeSpan FailureBackoff(int failures) =>
        TimeSpan.FromTicks(Math.Min(RetryAfterFailure.Ticks, TimeSpan.FromSeconds(2).Ticks << Math.Min(Math.Max(failures - 1, 0), 20)));
    private static readonly TimeSpan RefreshWithoutNextUpdate = TimeSpan.FromHours(1);
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(10);

    private readonly X509Certificate _leaf;
    private readonly X509Certificate _issuer;
    private readonly CertificateID _id;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private Response? _current;

    public OcspStaple(byte[] leafDer, byte[] issuerDer, Uri responder, HttpClient http, TimeProvider time, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(leafDer);
        ArgumentNullException.ThrowIfNull(issuerDer);
        ArgumentNullException.ThrowIfNull(responder);
        _leaf = new X509CertificateParser().ReadCertificate(leafDer);
        _issuer = new X509CertificateParser().ReadCertificate(issuerDer);
        _id = OcspExchange.IdFor(_issuer, _leaf.SerialNumber);
        Responder = responder;
        _http = http;
        _time = time;
        _log = log;
    }

    /// <summary>Where responses come from.</summary>
    public Uri Responder { get; }

    /// <summary>The DER OCSPResponse to staple now, or null when none is good and current.</summary>
    public byte[]? Current => Volatile.Read(ref _current) is { } c && (c.NextUpdate is not { } next || next > _time.GetUtcNow()) ? c.Der : null;

    /// <summary>The OCSP responder named by a certificate's Authority Information Access extension, or null.</summary>
    public static Uri? ResponderOf(byte[] certificateDer) => OcspExchange.ResponderOf(new X509CertificateParser().ReadCertificate(certificateDer));

    /// <summary>Starts the background refreshes (the first one at once).</summary>
    public void Start() => _ = Task.Run(RunAsync);

    /// <summary>Fetches and checks one response; true when it is now the current one. Never throws for the responder's faults.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        string why;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
            timeout.CancelAfter(FetchTimeout);
            var body = await OcspExchange.PostAsync(_http, Responder, _id, timeout.Token);
            if (Check(body) is not { } problem)
            {
                return true;
            }

            why = problem;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or InvalidDataException or ArgumentException or InvalidOperationException)
        {
            why = e is OperationCanceledException && !cancellationToken.IsCancellationRequested && !_stop.IsCancellationRequested
                ? $"no answer within {FetchTimeout.TotalSeconds:0} s"
                : e.Message;
        }

        if (!_stop.IsCancellationRequested)
        {
            _log($"OCSP staple for '{_leaf.SubjectDN}': {Responder} failed ({why}); " +
                (Current is null ? "nothing is stapled" : "the last good response is stapled until its nextUpdate"));
        }

        return false;
    }

    /// <summary>Checks a DER OCSPResponse and makes it current; the reason when it cannot be stapled.</summary>
    internal string? Check(byte[] der)
    {
        var answer = OcspExchange.Read(der, _id, _issuer, _time.GetUtcNow());
        switch (answer.Status)
        {
            case OcspCertStatus.Good:
                Volatile.Write(ref _current, new Response(der, answer.NextUpdate));
                return null;
            case OcspCertStatus.Revoked:
                return "the certificate is revoked";
            case OcspCertStatus.Unknown:
                return "the certificate's status is unknown";
            default:
                return answer.Reason;
        }
    }

    private async Task RunAsync()
    {
        var failures = 0;
        while (!_stop.IsCancellationRequested)
        {
            var ok = await RefreshAsync();
            failures = ok ? 0 : failures + 1;
            var wait = ok && Volatile.Read(ref _current) is { } current
                ? current.NextUpdate is { } next ? TimeSpan.FromTicks(Math.Max((next - _time.GetUtcNow()).Ticks / 2, RetryAfterFailure.Ticks)) : RefreshWithoutNextUpdate
                : FailureBackoff(failures);
            try
            {
                await Task.Delay(wait, _time, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private sealed record Response(byte[] Der, DateTimeOffset? NextUpdate);

    /// <summary>Stops the refreshes; the last response stays readable.</summary>
    public void Dispose()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }
    }
}
