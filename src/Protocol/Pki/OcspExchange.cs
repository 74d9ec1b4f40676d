using System.Net.Http.Headers;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Ocsp;
using Org.BouncyCastle.X509;

namespace SslCluster.Protocol.Pki;

/// <summary>What an OCSP responder said of one certificate, once its answer was checked.</summary>
public enum OcspCertStatus
{
    /// <summary>Not revoked, in a response signed for the issuer and current.</summary>
    Good,

    /// <summary>Revoked.</summary>
    Revoked,

    /// <summary>The responder does not know the certificate.</summary>
    Unknown,

    /// <summary>A response whose thisUpdate is ahead of our clock or whose nextUpdate has passed (a clock skew, a stale responder).</summary>
    OutOfRange,

    /// <summary>No usable answer: no responder to ask, no answer in time, an HTTP error, an unsigned or foreign response.</summary>
    Failed,
}

/// <summary>A checked answer: the status, until when it holds (nextUpdate, when given), and why when not Good.</summary>
public sealed record OcspAnswer(OcspCertStatus Status, DateTimeOffset? NextUpdate, string Reason);

/// <summary>
/// One OCSP exchange (RFC 6960) over HTTP POST: the request for one certificate, and the checks of the answer (signed
/// by the issuer or a responder it delegated to, about this certificate, inside thisUpdate..nextUpdate). Shared by the
/// stapling of our own certificates and the revocation check of clients' certificates.
/// </summary>
public static class OcspExchange
{
    /// <summary>How far ahead of our clock a response's thisUpdate may be (clock skew between us and the responder).</summary>
    public static readonly TimeSpan AllowedSkew = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How old a response without nextUpdate may be: without it nothing says when it stops holding, and over plain HTTP
    /// an old "good" could be replayed after a revocation.
    /// </summary>
    public static readonly TimeSpan MaxAgeWithoutNextUpdate = TimeSpan.FromHours(1);

    /// <summary>The largest response read (a response about one certificate is a few KiB at most).</summary>
    public const int MaxResponseBytes = 64 * 1024;

    /// <summary>The ID of <paramref name="serial"/> under <paramref name="issuer"/> (SHA-1 name and key hashes, as responders expect).</summary>
    public static CertificateID IdFor(X509Certificate issuer, BigInteger serial)
    {
        ArgumentNullException.ThrowIfNull(issuer);
#pragma warning disable CS0618 // BouncyCastle 2.7's only public way from an issuer certificate to a CertID; marked for a later rework.
        return new CertificateID(Org.BouncyCastle.Asn1.Oiw.OiwObjectIdentifiers.IdSha1.Id, issuer, serial);
#pragma warning restore CS0618
    }

    /// <summary>
    /// Posts the request for <paramref name="id"/> and returns the response body; throws
    /// <see cref="HttpRequestException"/> with the status for an HTTP error status, <see cref="InvalidDataException"/>
    /// for a response over <see cref="MaxResponseBytes"/>, and what HttpClient throws otherwise.
    /// </summary>
    public static async Task<byte[]> PostAsync(HttpClient http, Uri responder, CertificateID id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        var generator = new OcspReqGenerator();
        generator.AddRequest(id);
        using var content = new ByteArrayContent(generator.Generate().GetEncoded());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/ocsp-request");
        // One request per connection: responders such as openssl ocsp speak HTTP/1.0 and close after each answer,
        // and a pooled connection they closed would fail the next request.
        using var request = new HttpRequestMessage(HttpMethod.Post, responder) { Content = content };
        request.Headers.ConnectionClose = true;
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"HTTP {(int)response.StatusCode}", null, response.StatusCode);
        }

        return await BoundedHttpBody.ReadAsync(response, MaxResponseBytes, length => new InvalidDataException(length is { } declared
            ? $"a response of {declared} bytes, over the {MaxResponseBytes} read"
            : $"a response over the {MaxResponseBytes} bytes read"), cancellationToken);
    }

    /// <summary>Checks a DER OCSPResponse about <paramref name="id"/>; never throws for what the responder sent.</summary>
    public static OcspAnswer Read(byte[] der, CertificateID id, X509Certificate issuer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(der);
        ArgumentNullException.ThrowIfNull(id);
        try
        {
            var response = new OcspResp(der);
            if (response.Status != OcspRespStatus.Successful)
            {
                return new(OcspCertStatus.Failed, null, $"responder status {response.Status}");
            }

            if (response.GetResponseObject() is not BasicOcspResp basic)
            {
                return new(OcspCertStatus.Failed, null, "not a basic OCSP response");
            }

            if (!SignedByIssuerOrDelegate(basic, issuer, now))
            {
                return new(OcspCertStatus.Failed, null, "not signed by the issuer or a responder it authorised");
            }

            var single = basic.Responses.FirstOrDefault(r => r.GetCertID().Equals(id));
            if (single is null)
            {
                return new(OcspCertStatus.Failed, null, "no answer for this certificate");
            }

            var thisUpdate = new DateTimeOffset(DateTime.SpecifyKind(single.ThisUpdate, DateTimeKind.Utc));
            DateTimeOffset? nextUpdate = single.NextUpdate is { } n ? new DateTimeOffset(DateTime.SpecifyKind(n, DateTimeKind.Utc)) : null;
            var dates = $"thisUpdate {thisUpdate:u}, nextUpdate {nextUpdate?.ToString("u", System.Globalization.CultureInfo.InvariantCulture) ?? "none"}";
            if (thisUpdate > now + AllowedSkew)
            {
                return new(OcspCertStatus.OutOfRange, null, $"dated ahead of our clock ({dates})");
            }

            // A revocation does not stop being one because the answer that said so is old.
            if (single.GetCertStatus() is RevokedStatus revoked)
            {
                return new(OcspCertStatus.Revoked, nextUpdate > now ? nextUpdate : null, $"revoked on {revoked.RevocationTime:u}");
            }

            if (nextUpdate <= now || nextUpdate is null && thisUpdate < now - MaxAgeWithoutNextUpdate)
            {
                return new(OcspCertStatus.OutOfRange, null, $"out of date ({dates})");
            }

            return single.GetCertStatus() is null
                ? new(OcspCertStatus.Good, nextUpdate, "good")
                : new(OcspCertStatus.Unknown, nextUpdate, "the responder does not know the certificate");
        }
#pragma warning disable CA1031 // Whatever the bytes make the parser throw, the answer is unusable: a failure, never a crash.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            return new(OcspCertStatus.Failed, null, "the response does not parse: " + e.Message);
        }
    }

    /// <summary>The OCSP responder named by a certificate's Authority Information Access extension, or null.</summary>
    public static Uri? ResponderOf(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
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

    private static bool SignedByIssuerOrDelegate(BasicOcspResp basic, X509Certificate issuer, DateTimeOffset now)
    {
        if (Verifies(basic, issuer))
        {
            return true;
        }

        // A delegated responder: a certificate the issuer signed for OCSP signing (RFC 6960 4.2.2.2).
        foreach (var responder in basic.GetCerts() ?? [])
        {
            try
            {
                responder.Verify(issuer.GetPublicKey());
            }
            catch (Exception e) when (e is Org.BouncyCastle.Security.GeneralSecurityException or Org.BouncyCastle.Security.Certificates.CertificateException or InvalidOperationException)
            {
                continue;
            }

            if (responder.IsValid(now.UtcDateTime) && responder.GetExtendedKeyUsage()?.Contains(KeyPurposeID.id_kp_OCSPSigning) == true &&
                Verifies(basic, responder))
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
}
