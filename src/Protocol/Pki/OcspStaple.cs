using System.Net.Http.Headers;
using Org.BouncyCastle.Asn1.X509;
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
#pragma warning disable CS0618 // BouncyCastle 2.7's only public way from an issuer certificate to a CertID; marked for a later rework.
        _id = new CertificateID(Org.BouncyCastle.Asn1.Oiw.OiwObjectIdentifiers.IdSha1.Id, _issuer, _leaf.SerialNumber);
#pragma warning restore CS0618
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
    public static Uri? ResponderOf(byte[] certificateDer)
    {
        var certificate = new X509CertificateParser().ReadCertificate(certificateDer);
        var extension = certificate.GetExtensionValue(X509Extensions.AuthorityInfoAccess);
        if (extension is null)
        {
            return null;
        }

        var access = AuthorityInformationAccess.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(extension.GetOctets()));
        foreach (var description in access.GetAccessDescriptions())
        {
            if (description.AccessMethod.Equals(AccessDescription.IdADOcsp) && description.AccessLocation.TagNo == GeneralName.UniformResourceIdentifier &&
                Uri.TryCreate(description.AccessLocation.Name.ToString(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                return uri;
            }
        }

        return null;
    }

    /// <summary>Starts the background refreshes (the first one at once).</summary>
    public void Start() => _ = Task.Run(RunAsync);

    /// <summary>Fetches and checks one response; true when it is now the current one. Never throws for the responder's faults.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        string why;
        try
        {
            var generator = new OcspReqGenerator();
            generator.AddRequest(_id);
            using var content = new ByteArrayContent(generator.Generate().GetEncoded());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/ocsp-request");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
            timeout.CancelAfter(FetchTimeout);
            // One request per connection: responders such as openssl ocsp speak HTTP/1.0 and close after each answer,
            // and a pooled connection they closed would fail the next fetch.
            using var request = new HttpRequestMessage(HttpMethod.Post, Responder) { Content = content };
            request.Headers.ConnectionClose = true;
            using var response = await _http.SendAsync(request, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                why = $"HTTP {(int)response.StatusCode}";
            }
            else if (Check(body) is { } problem)
            {
                why = problem;
            }
            else
            {
                return true;
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or OcspException or ArgumentException or InvalidOperationException)
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
        var response = new OcspResp(der);
        if (response.Status != OcspRespStatus.Successful)
        {
            return $"responder status {response.Status}";
        }

        if (response.GetResponseObject() is not BasicOcspResp basic)
        {
            return "not a basic OCSP response";
        }

        if (!SignedByIssuerOrDelegate(basic))
        {
            return "not signed by the issuer or a responder it authorised";
        }

        var single = basic.Responses.FirstOrDefault(r => r.GetCertID().Equals(_id));
        if (single is null)
        {
            return "no answer for this certificate";
        }

        if (single.GetCertStatus() is not null)
        {
            return single.GetCertStatus() is RevokedStatus ? "the certificate is revoked" : "the certificate's status is unknown";
        }

        var now = _time.GetUtcNow();
        var thisUpdate = new DateTimeOffset(DateTime.SpecifyKind(single.ThisUpdate, DateTimeKind.Utc));
        DateTimeOffset? nextUpdate = single.NextUpdate is { } n ? new DateTimeOffset(DateTime.SpecifyKind(n, DateTimeKind.Utc)) : null;
        if (thisUpdate > now + TimeSpan.FromMinutes(5) || nextUpdate <= now)
        {
            return $"out of date (thisUpdate {thisUpdate:u}, nextUpdate {nextUpdate?.ToString("u", System.Globalization.CultureInfo.InvariantCulture) ?? "none"})";
        }

        Volatile.Write(ref _current, new Response(der, nextUpdate));
        return null;
    }

    private bool SignedByIssuerOrDelegate(BasicOcspResp basic)
    {
        if (Verifies(basic, _issuer))
        {
            return true;
        }

        // A delegated responder: a certificate the issuer signed for OCSP signing (RFC 6960 4.2.2.2).
        foreach (var responder in basic.GetCerts() ?? [])
        {
            try
            {
                responder.Verify(_issuer.GetPublicKey());
            }
            catch (Exception e) when (e is Org.BouncyCastle.Security.GeneralSecurityException or Org.BouncyCastle.Security.Certificates.CertificateException or InvalidOperationException)
            {
                continue;
            }

            if (responder.GetExtendedKeyUsage()?.Contains(KeyPurposeID.id_kp_OCSPSigning) == true && Verifies(basic, responder))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Verifies(BasicOcspResp basic, X509Certificate signer)
    {
        try
        {
            return basic.Verify(signer.GetPublicKey());
        }
        catch (Exception e) when (e is OcspException or InvalidOperationException or ArgumentException)
        {
            return false;
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
