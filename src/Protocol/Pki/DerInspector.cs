using System.Formats.Asn1;
using System.Numerics;

namespace SslCluster.Protocol.Pki;

/// <summary>What a DER object looks like, from its structure alone.</summary>
internal enum DerShape
{
    Unknown,
    Certificate,
    CertificateRequest,
    PrivateKeyInfo,
    EncryptedPrivateKeyInfo,
    RsaPrivateKey,
    EcPrivateKey,
    DsaPrivateKey,
    Pkcs12,
}

/// <summary>
/// Checks the outer framing of binary files (so that a cut-off file is reported as truncated, with the numbers,
/// rather than as "bad data") and recognises the structures people put in .der/.p12/.key files, so that a file
/// imported with the wrong type gets an error naming the right one.
/// </summary>
internal static class DerInspector
{
    /// <summary>True when the data starts like an ASN.1 SEQUENCE, which every structure we import is.</summary>
    public static bool StartsWithSequence(ReadOnlySpan<byte> data) => data.Length > 0 && data[0] == 0x30;

    /// <summary>
    /// Reads the outer tag and length; throws <see cref="PkiErrorCode.Truncated"/> when fewer bytes are present than
    /// the length says, and <see cref="PkiErrorCode.Corrupt"/> for data after the end. An indefinite length (BER,
    /// written by some PKCS#12 tools) is accepted only when <paramref name="allowIndefinite"/> is set; its end is
    /// then checked by the parser.
    /// </summary>
    public static void CheckFraming(ReadOnlySpan<byte> data, string what, bool allowIndefinite)
    {
        if (data.Length < 2)
        {
            throw new PkiException(PkiErrorCode.Truncated, $"{what} is truncated: {data.Length} byte(s) is too short for any DER structure");
        }

        int headerLength;
        long contentLength;
        if (data[1] < 0x80)
        {
            headerLength = 2;
            contentLength = data[1];
        }
        else if (data[1] == 0x80)
        {
            if (!allowIndefinite)
            {
                throw new PkiException(PkiErrorCode.WrongFormat, $"{what} is BER with an indefinite length, not DER");
            }

            return;
        }
        else
        {
            var lengthBytes = data[1] & 0x7F;
            if (lengthBytes > 4)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what} is not DER: its outer length field is {lengthBytes} bytes long");
            }

            headerLength = 2 + lengthBytes;
            if (data.Length < headerLength)
            {
                throw new PkiException(PkiErrorCode.Truncated, $"{what} is truncated: it ends inside its first DER header");
            }

            contentLength = 0;
            for (var i = 0; i < lengthBytes; i++)
            {
                contentLength = (contentLength << 8) | data[2 + i];
            }
        }

        var total = headerLength + contentLength;
        if (data.Length < total)
        {
            throw new PkiException(PkiErrorCode.Truncated,
                $"{what} is truncated: its DER structure declares {total} bytes but only {data.Length} are present");
        }

        if (data.Length > total)
        {
            throw new PkiException(PkiErrorCode.Corrupt,
                $"{what} has {data.Length - total} bytes of unexpected data after its {total}-byte DER structure");
        }
    }

    /// <summary>Recognises the structure; never throws.</summary>
    public static DerShape Classify(ReadOnlySpan<byte> data)
    {
        try
        {
            var outer = new AsnReader(data.ToArray(), AsnEncodingRules.BER);
            var sequence = outer.ReadSequence();
            var first = sequence.PeekTag();
            if (first.HasSameClassAndValue(Asn1Tag.Integer))
            {
                return ClassifyIntegerFirst(sequence);
            }

            if (first.HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var inner = sequence.ReadSequence();
                if (!sequence.HasData)
                {
                    return DerShape.Unknown;
                }

                var second = sequence.PeekTag();
                if (second.HasSameClassAndValue(Asn1Tag.PrimitiveOctetString) && inner.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
                {
                    return DerShape.EncryptedPrivateKeyInfo;
                }

                if (second.HasSameClassAndValue(Asn1Tag.Sequence))
                {
                    return ClassifySigned(inner);
                }
            }
        }
        catch (AsnContentException)
        {
            return DerShape.Unknown;
        }

        return DerShape.Unknown;
    }

    private static DerShape ClassifyIntegerFirst(AsnReader sequence)
    {
        var version = sequence.ReadInteger();
        if (!sequence.HasData)
        {
            return DerShape.Unknown;
        }

        var next = sequence.PeekTag();
        if (version == 3 && next.HasSameClassAndValue(Asn1Tag.Sequence))
        {
            var contentInfo = sequence.ReadSequence();
            return contentInfo.ReadObjectIdentifier().StartsWith("1.2.840.113549.1.7.", StringComparison.Ordinal)
                ? DerShape.Pkcs12
                : DerShape.Unknown;
        }

        if (next.HasSameClassAndValue(Asn1Tag.Sequence))
        {
            return DerShape.PrivateKeyInfo;
        }

        if (version == 1 && next.HasSameClassAndValue(Asn1Tag.PrimitiveOctetString))
        {
            return DerShape.EcPrivateKey;
        }

        if (version == BigInteger.Zero)
        {
            var integers = 0;
            while (sequence.HasData && sequence.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                sequence.ReadInteger();
                integers++;
            }

            return (integers, sequence.HasData) switch
            {
                (8, _) => DerShape.RsaPrivateKey,
                (5, false) => DerShape.DsaPrivateKey,
                _ => DerShape.Unknown,
            };
        }

        return DerShape.Unknown;
    }

    // Certificate and CertificationRequest are both SEQUENCE { info, algorithm, BIT STRING }. A v3 certificate's
    // info starts with [0] version; a v1 certificate's with the serial and then an AlgorithmIdentifier (starting
    // with an OID); a request's with version 0 and then a Name (a SEQUENCE of SETs).
    private static DerShape ClassifySigned(AsnReader info)
    {
        var first = info.PeekTag();
        if (first.HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
        {
            return DerShape.Certificate;
        }

        if (!first.HasSameClassAndValue(Asn1Tag.Integer))
        {
            return DerShape.Unknown;
        }

        info.ReadInteger();
        var second = info.ReadSequence();
        if (!second.HasData)
        {
            return DerShape.CertificateRequest;
        }

        var inner = second.PeekTag();
        if (inner.HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
        {
            return DerShape.Certificate;
        }

        return inner.HasSameClassAndValue(Asn1Tag.SetOf) ? DerShape.CertificateRequest : DerShape.Unknown;
    }
}
