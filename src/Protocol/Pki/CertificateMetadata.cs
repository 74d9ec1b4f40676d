using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// What the store and the data plane read from a certificate: names, serial, validity, public key and alternative
/// names, parsed from the DER in managed code. Loading an <see cref="X509Certificate2"/> for this goes through
/// OpenSSL 3's decoder framework (a decoder context per certificate and per public key), which cost about 0.3 ms per
/// certificate and was a third of a restarted node's configuration intake at 2,000 ssl-servers. Certificates given
/// by a user are still loaded by the platform when they are imported (<see cref="CertStoreImporter"/>), which
/// checks them in full; this reads ones the store already holds or that the node made itself. The strings are the
/// platform's (<see cref="X500DistinguishedName.Name"/>, the serial's hex as openssl prints it, the subjectAltName extension's own
/// enumeration), so both readings agree (<c>CertificateMetadataTests</c> compares them). The managed reading takes DER
/// only; a certificate that OpenSSL reads but that is not strict DER inside (a BOOLEAN TRUE written 0x01, a length in
/// long form: some CA software does this, and such certificates were imported before) is read by the platform instead,
/// as before, so nothing the store ever took in stops being read.
/// </summary>
internal sealed record CertificateMetadata(
    string Subject,
    string Issuer,
    string SerialNumber,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    byte[] SubjectPublicKeyInfo,
    IReadOnlyList<string> SubjectAltNames)
{
    private const string SubjectAltNameOid = "2.5.29.17";

    private static readonly Asn1Tag VersionTag = new(TagClass.ContextSpecific, 0, isConstructed: true);
    private static readonly Asn1Tag IssuerUniqueIdTag = new(TagClass.ContextSpecific, 1);
    private static readonly Asn1Tag SubjectUniqueIdTag = new(TagClass.ContextSpecific, 2);
    private static readonly Asn1Tag ExtensionsTag = new(TagClass.ContextSpecific, 3, isConstructed: true);

    /// <summary>Reads a DER certificate; a malformed one fails with <see cref="PkiErrorCode.Corrupt"/> naming <paramref name="what"/>.</summary>
    public static CertificateMetadata Parse(ReadOnlyMemory<byte> der, string what)
    {
        try
        {
            return ParseDer(der);
        }
        catch (Exception ex) when (ex is AsnContentException or CryptographicException)
        {
            return ParseWithPlatform(der, what, ex);
        }
    }

    private static CertificateMetadata ParseDer(ReadOnlyMemory<byte> der)
    {
        var outer = new AsnReader(der, AsnEncodingRules.DER);
        var certificate = outer.ReadSequence();
        outer.ThrowIfNotEmpty();
        var tbs = certificate.ReadSequence();
        certificate.ReadSequence(); // signatureAlgorithm
        certificate.ReadBitString(out _);
        certificate.ThrowIfNotEmpty();

        if (tbs.PeekTag().HasSameClassAndValue(VersionTag))
        {
            var version = tbs.ReadSequence(VersionTag);
            // v1, v2 or v3 (0, 1, 2).
            if (!version.TryReadInt32(out var number) || number is < 0 or > 2) throw new AsnContentException($"certificate version {number + 1} is not one of 1, 2, 3");
            version.ThrowIfNotEmpty();
        }

        var serial = tbs.ReadIntegerBytes();
        tbs.ReadSequence(); // signature
        var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
        var validity = tbs.ReadSequence();
        var notBefore = ReadTime(validity);
        var notAfter = ReadTime(validity);
        validity.ThrowIfNotEmpty();
        var subject = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
        var spki = tbs.ReadEncodedValue().ToArray();
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(IssuerUniqueIdTag)) tbs.ReadBitString(out _, IssuerUniqueIdTag);
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(SubjectUniqueIdTag)) tbs.ReadBitString(out _, SubjectUniqueIdTag);
        var names = new List<string>();
        if (tbs.HasData)
        {
            var wrapper = tbs.ReadSequence(ExtensionsTag);
            var extensions = wrapper.ReadSequence();
            wrapper.ThrowIfNotEmpty();
            while (extensions.HasData)
            {
                var extension = extensions.ReadSequence();
                var oid = extension.ReadObjectIdentifier();
                var critical = extension.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean) && extension.ReadBoolean();
                var value = extension.ReadOctetString();
                extension.ThrowIfNotEmpty();
                if (oid == SubjectAltNameOid) names.AddRange(NamesOf(new X509SubjectAlternativeNameExtension(value, critical)));
            }
        }

        tbs.ThrowIfNotEmpty();
        return new CertificateMetadata(subject.Name, issuer.Name, SerialHex(serial.Span), notBefore, notAfter, spki, names.AsReadOnly());
    }

    /// <summary>The platform's reading (OpenSSL), for a certificate the managed DER reading refused: the store's reading before.</summary>
    private static CertificateMetadata ParseWithPlatform(ReadOnlyMemory<byte> der, string what, Exception managed)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(der.Span);
        }
        catch (CryptographicException)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what} is not a valid X.509 certificate ({managed.Message})", managed);
        }

        using (certificate)
        {
            // The loader also takes PEM and BER; the store keeps exactly the DER it was given, so insist on it.
            if (!certificate.RawData.AsSpan().SequenceEqual(der.Span))
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what} is not in DER encoding");
            }

            try
            {
                return FromPlatform(certificate);
            }
            catch (CryptographicException ex)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what} is not a valid X.509 certificate ({ex.Message})", ex);
            }
        }
    }

    private static CertificateMetadata FromPlatform(X509Certificate2 certificate)
    {
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(NamesOf).ToList();
        return new CertificateMetadata(certificate.Subject, certificate.Issuer, SerialHex(certificate.SerialNumberBytes.Span),
            new DateTimeOffset(certificate.NotBefore.ToUniversalTime()), new DateTimeOffset(certificate.NotAfter.ToUniversalTime()),
            certificate.PublicKey.ExportSubjectPublicKeyInfo(), names.AsReadOnly());
    }

    /// <summary>
    /// A serial number's DER integer bytes (big-endian) as upper-case hex, the way <c>openssl x509 -serial</c> prints it:
    /// without the 00 byte DER puts before a first byte of 0x80 or more to keep the integer positive. Operators compare
    /// what we show with what openssl shows, and X509Certificate2.SerialNumber keeps that sign byte.
    /// </summary>
    internal static string SerialHex(ReadOnlySpan<byte> integer) =>
        Convert.ToHexString(integer.Length > 1 && integer[0] == 0 && integer[1] >= 0x80 ? integer[1..] : integer);

    /// <summary>A subjectAltName extension's DNS names, then its IP addresses as text.</summary>
    internal static IEnumerable<string> NamesOf(X509SubjectAlternativeNameExtension san) =>
        san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(address => address.ToString()));

    /// <summary>A validity time: UTCTime (years 1950-2049, RFC 5280) or GeneralizedTime.</summary>
    private static DateTimeOffset ReadTime(AsnReader validity) =>
        validity.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime)
            ? validity.ReadUtcTime(twoDigitYearMax: 2049).ToUniversalTime()
            : validity.ReadGeneralizedTime().ToUniversalTime();
}
