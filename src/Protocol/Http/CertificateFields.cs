using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto.Parameters;
using BcCertificate = Org.BouncyCastle.X509.X509Certificate;

namespace SslCluster.Protocol.Http;

/// <summary>
/// One certificate's fields as HTTP header values, in the order and under the names of the CSS's and the SSL Services
/// Module's certificate headers (without their <c>ClientCert-</c>/<c>ServerCert-</c> start), plus what the standard
/// forms (XFCC, RFC 9440) need. Read once per certificate: instances are kept in a bounded cache keyed by the
/// certificate's SHA-256, so a client reconnecting with the same certificate costs a hash, not a parse (the SSLM's
/// CSCsl06228 was slow client-cert insertion).
/// </summary>
public sealed class CertificateFields
{
    /// <summary>
    /// The field names, in insertion order. The first <see cref="BasicCount"/> are the CSS's Table 4-2 rows and the
    /// SSLM 2.1 fields; the last four were added by SSLM 3.1.
    /// </summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "Fingerprint", "Subject-CN", "Issuer-CN", "Certificate-Version", "Serial-Number", "Data-Signature-Algorithm",
        "Subject", "Issuer", "Not-Before", "Not-After", "Public-Key-Algorithm", "RSA-Public-Key-Size", "RSA-Modulus-Size",
        "RSA-Modulus", "RSA-Exponent", "X509v3-Authority-Key-Identifier", "X509v3-Basic-Constraints", "Signature-Algorithm",
        "Signature",
        "X509v3-Key-Usage", "X509v3-Subject-Alternative-Name", "X509v3-CRL-Distribution-Points",
        "X509v3-Authority-Information-Access",
    ];

    /// <summary>How many of <see cref="Names"/> the SSLM 2.1 inserted (its 21 fields are these and Valid and Error).</summary>
    public const int BasicCount = 19;

    private const int CacheLimit = 4096;
    private static readonly ConcurrentDictionary<string, CertificateFields> Cache = new(StringComparer.Ordinal);

    private readonly string?[] _values;

    private CertificateFields(string?[] values, string pem, string sha256, string subject, IReadOnlyList<string> dns, IReadOnlyList<string> uris)
    {
        _values = values;
        Pem = pem;
        Sha256Hex = sha256;
        Subject = subject;
        DnsNames = dns;
        Uris = uris;
    }

    /// <summary>The value of field <paramref name="index"/> of <see cref="Names"/>; null when the certificate has no such field.</summary>
    public string? this[int index] => _values[index];

    /// <summary>The certificate in PEM (BEGIN and END lines, 64-character lines, each ending in a line feed).</summary>
    public string Pem { get; }

    /// <summary>SHA-256 of the DER, lower-case hex (XFCC's <c>Hash</c>).</summary>
    public string Sha256Hex { get; }

    /// <summary>The subject in RFC 4514 form (most specific first).</summary>
    public string Subject { get; }

    /// <summary>The DNS names of the subject alternative name extension.</summary>
    public IReadOnlyList<string> DnsNames { get; }

    /// <summary>The URIs of the subject alternative name extension.</summary>
    public IReadOnlyList<string> Uris { get; }

    /// <summary>A certificate larger than this is not read: no fields (OpenSSL takes certificate lists up to 100 KiB).</summary>
    public const int MaxCertificateBytes = 16 * 1024;

    /// <summary>
    /// The fields of the certificate <paramref name="der"/>; null when it does not parse or is over
    /// <see cref="MaxCertificateBytes"/>. Only certificates someone vouched for are kept (<paramref name="keep"/>: ours,
    /// or a client's that verified): a client under <c>failure ignore</c> could otherwise fill the cache with
    /// certificates it made itself.
    /// </summary>
    public static CertificateFields? Of(byte[] der, bool keep = true)
    {
        ArgumentNullException.ThrowIfNull(der);
        if (der.Length > MaxCertificateBytes)
        {
            return null;
        }

        var sha256 = Convert.ToHexStringLower(SHA256.HashData(der));
        if (Cache.TryGetValue(sha256, out var known))
        {
            return known;
        }

        CertificateFields? fields;
        try
        {
            fields = Read(der, sha256);
        }
#pragma warning disable CA1031 // The fields are for display: whatever a hostile certificate makes the parser throw, the connection goes on without them.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            fields = null;
        }

        if (fields is not null && keep)
        {
            if (Cache.Count >= CacheLimit)
            {
                Cache.Clear();
            }

            Cache[sha256] = fields;
        }

        return fields;
    }

    private static CertificateFields? Read(byte[] der, string sha256)
    {
        var cert = new BcCertificate(der);
        var tbs = cert.CertificateStructure.TbsCertificate;
        var extensions = tbs.Extensions;
        var values = new string?[Names.Count];
        int i = 0;
        // The CSS's own example has 16 bytes: an MD5 fingerprint. Kept for servers written against it; XFCC carries SHA-256.
        values[i++] = ColonHex(MD5.HashData(der));
        values[i++] = CommonName(cert.SubjectDN);
        values[i++] = CommonName(cert.IssuerDN);
        // "3 (0x2)": the version, then the ASN.1 value, as the CSS's table describes it and OpenSSL prints it.
        values[i++] = string.Create(CultureInfo.InvariantCulture, $"{cert.Version} (0x{cert.Version - 1:x})");
        values[i++] = ColonHex(cert.SerialNumber.ToByteArrayUnsigned());
        values[i++] = AlgorithmName(tbs.Signature.Algorithm);
        values[i++] = Rfc4514(cert.SubjectDN);
        values[i++] = Rfc4514(cert.IssuerDN);
        values[i++] = OpenSslTime(cert.NotBefore);
        values[i++] = OpenSslTime(cert.NotAfter);
        values[i++] = AlgorithmName(cert.SubjectPublicKeyInfo.Algorithm.Algorithm);
        RsaKeyParameters? rsa = null;
        try
        {
            rsa = cert.GetPublicKey() as RsaKeyParameters;
        }
#pragma warning disable CA1031 // A key BouncyCastle cannot read (an unknown algorithm or curve, bad bytes): no RSA fields, the rest stays.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            rsa = null;
        }

        var bits = rsa?.Modulus.BitLength.ToString(CultureInfo.InvariantCulture);
        values[i++] = bits;
        values[i++] = bits;
        values[i++] = rsa is null ? null : ColonHex(rsa.Modulus.ToByteArrayUnsigned());
        values[i++] = rsa?.Exponent.ToString();
        values[i++] = Extension(extensions, X509Extensions.AuthorityKeyIdentifier, v =>
            AuthorityKeyIdentifier.GetInstance(v).KeyIdentifier is { } id ? ColonHex(id.GetOctets()) : null);
        values[i++] = Extension(extensions, X509Extensions.BasicConstraints, v =>
        {
            var constraints = BasicConstraints.GetInstance(v);
            return !constraints.IsCA() ? "CA:FALSE"
                : constraints.PathLenConstraint is { } length ? "CA:TRUE, pathlen:" + length.ToString() : "CA:TRUE";
        });
        values[i++] = AlgorithmName(cert.CertificateStructure.SignatureAlgorithm.Algorithm);
        values[i++] = ColonHex(cert.GetSignature());
        values[i++] = Extension(extensions, X509Extensions.KeyUsage, KeyUsageText);
        var dns = new List<string>();
        var uris = new List<string>();
        values[i++] = Extension(extensions, X509Extensions.SubjectAlternativeName, v => GeneralNamesText(GeneralNames.GetInstance(v), dns, uris));
        values[i++] = Extension(extensions, X509Extensions.CrlDistributionPoints, v =>
            Joined(CrlDistPoint.GetInstance(v).GetDistributionPoints()
                .Select(p => p.DistributionPointName is { Type: DistributionPointName.FullName } name
                    ? GeneralNamesText(GeneralNames.GetInstance(name.Name), null, null)
                    : null)));
        values[i++] = Extension(extensions, X509Extensions.AuthorityInfoAccess, v =>
            Joined(AuthorityInformationAccess.GetInstance(v).GetAccessDescriptions().Select(d =>
                (d.AccessMethod.Equals(AccessDescription.IdADOcsp) ? "OCSP" :
                 d.AccessMethod.Equals(AccessDescription.IdADCAIssuers) ? "CA Issuers" : d.AccessMethod.Id) +
                " - " + GeneralName(d.AccessLocation, null, null))));

        return new CertificateFields(values, PemOf(der), sha256, Rfc4514(cert.SubjectDN), dns, uris);
    }

    /// <summary>Bytes as upper-case hex pairs separated by colons, as the CSS prints its fingerprint.</summary>
    internal static string ColonHex(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return "";
        }

        var text = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            text.Append(CultureInfo.InvariantCulture, $"{b:X2}:");
        }

        return text.ToString(0, text.Length - 1);
    }

    /// <summary>The most specific common name (the last in the certificate's order); null when there is none.</summary>
    private static string? CommonName(X509Name name) => name.GetValueList(X509Name.CN) is { Count: > 0 } names ? names[^1] : null;

    /// <summary>OpenSSL's short names for the attributes of a name (its <c>-nameopt RFC2253</c> uses them); others print as OIDs.</summary>
    private static readonly Dictionary<DerObjectIdentifier, string> NameSymbols = new()
    {
        [X509Name.C] = "C", [X509Name.O] = "O", [X509Name.OU] = "OU", [X509Name.CN] = "CN", [X509Name.L] = "L",
        [X509Name.ST] = "ST", [X509Name.Street] = "street", [X509Name.DC] = "DC", [X509Name.UID] = "UID",
        [X509Name.EmailAddress] = "emailAddress", [X509Name.SerialNumber] = "serialNumber", [X509Name.T] = "title",
        [X509Name.GivenName] = "GN", [X509Name.Surname] = "SN", [X509Name.Initials] = "initials",
        [X509Name.Generation] = "generationQualifier", [X509Name.DnQualifier] = "dnQualifier", [X509Name.Pseudonym] = "pseudonym",
        [X509Name.PostalCode] = "postalCode", [X509Name.BusinessCategory] = "businessCategory",
    };

    private static string Rfc4514(X509Name name) => name.ToString(true, NameSymbols);

    /// <summary>OpenSSL's form, as <c>openssl x509 -dates</c> prints it: <c>Dec  5 13:29:04 2026 GMT</c>.</summary>
    private static string OpenSslTime(DateTime time)
    {
        var utc = time.ToUniversalTime();
        return string.Create(CultureInfo.InvariantCulture, $"{utc:MMM} {utc.Day,2} {utc:HH:mm:ss} {utc.Year} GMT");
    }

    /// <summary>OpenSSL's long names for the algorithms certificates use; the dotted OID for any other.</summary>
    private static string AlgorithmName(DerObjectIdentifier oid) => oid.Id switch
    {
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.1" => "dsaEncryption",
        "1.2.840.10040.4.3" => "dsa_with_SHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        var other => other,
    };

    /// <summary>The extension's text, or null when the certificate lacks it or it does not parse.</summary>
    private static string? Extension(X509Extensions? extensions, DerObjectIdentifier oid, Func<Asn1Object, string?> text)
    {
        if (extensions?.GetExtension(oid) is not { } extension)
        {
            return null;
        }

        try
        {
            return text(extension.GetParsedValue()) is { Length: > 0 } value ? value : null;
        }
#pragma warning disable CA1031 // A malformed extension is left out; the certificate was decided on by the chain check, not by this text.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    private static readonly (int Bit, string Name)[] KeyUsages =
    [
        (KeyUsage.DigitalSignature, "Digital Signature"), (KeyUsage.NonRepudiation, "Non Repudiation"),
        (KeyUsage.KeyEncipherment, "Key Encipherment"), (KeyUsage.DataEncipherment, "Data Encipherment"),
        (KeyUsage.KeyAgreement, "Key Agreement"), (KeyUsage.KeyCertSign, "Certificate Sign"),
        (KeyUsage.CrlSign, "CRL Sign"), (KeyUsage.EncipherOnly, "Encipher Only"), (KeyUsage.DecipherOnly, "Decipher Only"),
    ];

    private static string? KeyUsageText(Asn1Object value)
    {
        var usage = KeyUsage.GetInstance(value);
        return Joined(KeyUsages.Where(u => (usage.IntValue & u.Bit) != 0).Select(u => u.Name));
    }

    private static string? GeneralNamesText(GeneralNames names, List<string>? dns, List<string>? uris) =>
        Joined(names.GetNames().Select(n => GeneralName(n, dns, uris)));

    /// <summary>One name as OpenSSL prints it (<c>DNS:host</c>, <c>IP Address:127.0.0.1</c>, <c>URI:...</c>, <c>email:...</c>).</summary>
    private static string GeneralName(GeneralName name, List<string>? dns, List<string>? uris)
    {
        switch (name.TagNo)
        {
            case Org.BouncyCastle.Asn1.X509.GeneralName.DnsName:
                var host = DerIA5String.GetInstance(name.Name).GetString();
                dns?.Add(host);
                return "DNS:" + host;
            case Org.BouncyCastle.Asn1.X509.GeneralName.UniformResourceIdentifier:
                var uri = DerIA5String.GetInstance(name.Name).GetString();
                uris?.Add(uri);
                return "URI:" + uri;
            case Org.BouncyCastle.Asn1.X509.GeneralName.Rfc822Name:
                return "email:" + DerIA5String.GetInstance(name.Name).GetString();
            case Org.BouncyCastle.Asn1.X509.GeneralName.IPAddress:
                var octets = Asn1OctetString.GetInstance(name.Name).GetOctets();
                return "IP Address:" + (octets.Length is 4 or 16 ? new IPAddress(octets).ToString() : ColonHex(octets));
            case Org.BouncyCastle.Asn1.X509.GeneralName.DirectoryName:
                return "DirName:" + Rfc4514(X509Name.GetInstance(name.Name));
            case Org.BouncyCastle.Asn1.X509.GeneralName.RegisteredID:
                return "Registered ID:" + DerObjectIdentifier.GetInstance(name.Name).Id;
            default:
                return "othername:<unsupported>";
        }
    }

    private static string? Joined(IEnumerable<string?> parts)
    {
        var text = string.Join(", ", parts.OfType<string>());
        return text.Length > 0 ? text : null;
    }

    /// <summary>A certificate in PEM.</summary>
    internal static string PemOf(byte[] der)
    {
        var base64 = Convert.ToBase64String(der);
        var pem = new StringBuilder("-----BEGIN CERTIFICATE-----\n", base64.Length + 64);
        for (int at = 0; at < base64.Length; at += 64)
        {
            pem.Append(base64.AsSpan(at, Math.Min(64, base64.Length - at))).Append('\n');
        }

        return pem.Append("-----END CERTIFICATE-----\n").ToString();
    }
}
