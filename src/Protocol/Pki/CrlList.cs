using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.X509;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// A CRL read and checked: issued by the expected CA (by name), signed by its key, its thisUpdate not in the future.
/// Shared by the crl-records' <see cref="CrlMonitor"/> and the distribution-point cache <see cref="CdpCrlCache"/>.
/// </summary>
public sealed record CrlList(X509Name Issuer, HashSet<BigInteger> Serials, DateTimeOffset ThisUpdate, DateTimeOffset? NextUpdate)
{
    /// <summary>Clock difference tolerated on a CRL's thisUpdate.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>The list, or why <paramref name="body"/> is refused.</summary>
    /// <param name="signerSubject">The signer's name as people read it, for the reason.</param>
    public static (CrlList? List, string? Problem) Read(byte[] body, X509Name signerName, AsymmetricKeyParameter signerKey, string signerSubject, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(signerName);
        ArgumentNullException.ThrowIfNull(signerKey);
        X509Crl? crl;
        try
        {
            crl = new X509CrlParser().ReadCrl(body);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or
            Org.BouncyCastle.Security.Certificates.CrlException or Org.BouncyCastle.Asn1.Asn1Exception)
        {
            return (null, "not a CRL: " + e.Message);
        }

        if (crl is null)
        {
            return (null, "the answer holds no CRL");
        }

        if (!crl.IssuerDN.Equivalent(signerName))
        {
            return (null, $"the CRL is issued by '{crl.IssuerDN}', not by the signing certificate '{signerName}'");
        }

        try
        {
            crl.Verify(signerKey);
        }
        catch (Exception e) when (e is Org.BouncyCastle.Security.Certificates.CrlException or
            Org.BouncyCastle.Security.InvalidKeyException or Org.BouncyCastle.Security.SignatureException or
            Org.BouncyCastle.Security.Certificates.CertificateException)
        {
            return (null, $"its signature does not verify with '{signerSubject}'");
        }

        var thisUpdate = new DateTimeOffset(DateTime.SpecifyKind(crl.ThisUpdate, DateTimeKind.Utc));
        DateTimeOffset? nextUpdate = crl.NextUpdate is { } next ? new DateTimeOffset(DateTime.SpecifyKind(next, DateTimeKind.Utc)) : null;
        if (thisUpdate > now + ClockSkew)
        {
            return (null, $"its thisUpdate {thisUpdate:u} is in the future");
        }

        var serials = new HashSet<BigInteger>();
        foreach (var entry in crl.GetRevokedCertificates() ?? new HashSet<X509CrlEntry>())
        {
            serials.Add(entry.SerialNumber);
        }

        return (new CrlList(crl.IssuerDN, serials, thisUpdate, nextUpdate), null);
    }
}
