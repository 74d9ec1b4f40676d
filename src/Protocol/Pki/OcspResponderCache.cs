using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Tls;
using BcParser = Org.BouncyCastle.X509.X509CertificateParser;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// The OCSP revocation check of client certificates (<c>revocation-check ocsp</c>): the responder configured, or the
/// one each certificate names in its Authority Information Access. Answers are kept until their nextUpdate (a minute
/// when they give none), failures for <see cref="FailureHold"/> so that a responder that is down is not asked again by
/// every connection. One question per certificate is in flight at a time, bounded by <see cref="AskTimeout"/>; a
/// responder that accepts and never answers holds only the connections waiting for that certificate's answer, never a
/// thread, another client's handshake or the accepting of new connections (the SSLM's CSCsl74182).
/// </summary>
public sealed class OcspResponderCache : IOcspSource, IDisposable
{
    /// <summary>How long one question may take.</summary>
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a failed question (no answer, an unusable one) stands before the certificate is asked about again.</summary>
    public static readonly TimeSpan FailureHold = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan WithoutNextUpdate = TimeSpan.FromMinutes(1);

    private readonly Uri? _configured;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly BoundedLruCache<string, (OcspAnswer Answer, DateTimeOffset Until)> _answers = new(65536);
    // Lazy: GetOrAdd may run its factory twice under contention, and only the question kept may start.
    private readonly ConcurrentDictionary<string, Lazy<Task<OcspAnswer>>> _asking = new(StringComparer.Ordinal);

    /// <summary>A cache asking <paramref name="responder"/>, or each certificate's own responder when null.</summary>
    public OcspResponderCache(Uri? responder, HttpClient http, TimeProvider time, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(http);
        _configured = responder;
        _http = http;
        _time = time ?? TimeProvider.System;
        _log = log ?? (_ => { });
    }

    /// <inheritdoc/>
    public string Id => _configured?.ToString() ?? "aia";

    /// <summary>Questions sent to a responder so far (for tests and counters).</summary>
    public int Asked => Volatile.Read(ref _asked);

    private int _asked;

    /// <inheritdoc/>
    public OcspAnswer? Cached(X509Certificate2 leaf, X509Certificate2 issuer)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(issuer);
        return _answers.TryGet(Key(leaf, issuer), out var known) && known.Until > _time.GetUtcNow() ? known.Answer : null;
    }

    /// <inheritdoc/>
    public Task<OcspAnswer> AskAsync(X509Certificate2 leaf, X509Certificate2 issuer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(issuer);
        if (Cached(leaf, issuer) is { } known)
        {
            return Task.FromResult(known);
        }

        var key = Key(leaf, issuer);
        var leafDer = leaf.RawData;
        var issuerDer = issuer.RawData;
        // The question knows its own entry before anyone can run it, so its end always removes that entry.
        Lazy<Task<OcspAnswer>>? candidate = null;
        candidate = new Lazy<Task<OcspAnswer>>(() => AskOnceAsync(key, leafDer, issuerDer, candidate!));
        return _asking.GetOrAdd(key, candidate).Value.WaitAsync(cancellationToken);
    }

    private async Task<OcspAnswer> AskOnceAsync(string key, byte[] leafDer, byte[] issuerDer, Lazy<Task<OcspAnswer>> self)
    {
        // Off the caller's stack: the question runs alone, and its end removes it.
        await Task.Yield();
        OcspAnswer answer;
        Uri? responder = null;
        try
        {
            var leaf = new BcParser().ReadCertificate(leafDer);
            var issuer = new BcParser().ReadCertificate(issuerDer);
            responder = _configured ?? OcspExchange.ResponderOf(leaf);
            if (responder is null)
            {
                answer = new(OcspCertStatus.Failed, null, "no OCSP responder: the certificate names none and none is configured");
            }
            else
            {
                var id = OcspExchange.IdFor(issuer, leaf.SerialNumber);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(AskTimeout);
                Interlocked.Increment(ref _asked);
                byte[] body;
                try
                {
                    body = await OcspExchange.PostAsync(_http, responder, id, timeout.Token);
                }
                catch (HttpRequestException e) when (e.StatusCode is null && !timeout.IsCancellationRequested)
                {
                    // A connection that failed before any answer (reset, refused while the responder was between two
                    // connections: openssl ocsp serves one at a time) is tried once more, inside the same time bound.
                    body = await OcspExchange.PostAsync(_http, responder, id, timeout.Token);
                }

                answer = OcspExchange.Read(body, id, issuer, _time.GetUtcNow());
            }
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            answer = new(OcspCertStatus.Failed, null, $"no answer from {responder} within {AskTimeout.TotalSeconds:0} s");
        }
#pragma warning disable CA1031 // A question that fails in any way is a failed answer: the caller decides by its revocation order.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            answer = new(OcspCertStatus.Failed, null, $"{responder?.ToString() ?? "OCSP"}: {e.Message}");
        }

        var now = _time.GetUtcNow();
        var until = answer.Status is OcspCertStatus.Good or OcspCertStatus.Revoked or OcspCertStatus.Unknown
            ? answer.NextUpdate ?? now + WithoutNextUpdate
            : now + FailureHold;
        _answers.Set(key, (answer, until));
        _asking.TryRemove(new KeyValuePair<string, Lazy<Task<OcspAnswer>>>(key, self));
        if (answer.Status is OcspCertStatus.Failed or OcspCertStatus.OutOfRange && !_stop.IsCancellationRequested)
        {
            _log($"OCSP check of a client certificate: {answer.Reason}; asked again after {FailureHold.TotalSeconds:0} s");
        }

        return answer;
    }

    /// <summary>The certificate's identity for the cache: its issuer's certificate and its own DER (hashes).</summary>
    private static string Key(X509Certificate2 leaf, X509Certificate2 issuer) =>
        leaf.GetCertHashString(HashAlgorithmName.SHA256) + "/" + issuer.GetCertHashString(HashAlgorithmName.SHA256);

    /// <summary>Stops questions in flight (they end as failures) and asks no more.</summary>
    public void Dispose()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }

        _stop.Dispose();
    }
}
