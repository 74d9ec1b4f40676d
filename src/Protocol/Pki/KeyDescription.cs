using System.Formats.Asn1;

namespace SslCluster.Protocol.Pki;

/// <summary>The public key algorithms a store file can hold.</summary>
public enum KeyAlgorithm
{
    /// <summary>RSA (rsaEncryption).</summary>
    Rsa,

    /// <summary>ECDSA on a named NIST curve (P-256, P-384 or P-521).</summary>
    Ec,
}

/// <summary>What a SubjectPublicKeyInfo says about its key: algorithm, size, curve.</summary>
internal sealed record KeyDescription(KeyAlgorithm Algorithm, int Bits, string? Curve)
{
    /// <summary>The smallest RSA modulus accepted anywhere in the product.</summary>
    public const int MinimumRsaBits = 2048;

    /// <summary>The largest RSA modulus accepted on import (generation stops at 4096).</summary>
    public const int MaximumRsaBits = 16384;

    /// <summary>"RSA 2048" or "ECDSA P-256", for listings and error texts.</summary>
    public string Display => Algorithm == KeyAlgorithm.Rsa ? $"RSA {Bits}" : $"ECDSA {Curve}";

    /// <summary>Reads algorithm, size and curve from a DER SubjectPublicKeyInfo.</summary>
    public static KeyDescription FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spki, string what)
    {
        var (oid, curveOid) = ReadAlgorithm(spki, what);
        var reason = Oids.UnsupportedKeyReason(oid);
        if (reason is not null)
        {
            throw new PkiException(PkiErrorCode.Unsupported, $"{what}: {reason}");
        }

        if (oid == Oids.Rsa)
        {
            return new KeyDescription(KeyAlgorithm.Rsa, RsaModulusBits(spki, what), null);
        }

        var curve = Oids.SupportedCurveName(curveOid) ?? throw UnsupportedCurve(curveOid, what);
        return new KeyDescription(KeyAlgorithm.Ec, curve switch { "P-256" => 256, "P-384" => 384, _ => 521 }, curve);
    }

    /// <summary>
    /// The modulus size of an RSA SubjectPublicKeyInfo, read in managed code: importing the key into the platform to
    /// ask its size goes through OpenSSL 3's decoders (about 0.1 ms), and a restarted node reads every key of its store.
    /// </summary>
    private static int RsaModulusBits(ReadOnlySpan<byte> spki, string what)
    {
        try
        {
            var info = new AsnReader(spki.ToArray(), AsnEncodingRules.DER).ReadSequence();
            info.ReadSequence();
            var key = info.ReadBitString(out var unused);
            info.ThrowIfNotEmpty();
            var outer = new AsnReader(key, AsnEncodingRules.DER);
            var rsa = outer.ReadSequence();
            outer.ThrowIfNotEmpty();
            var modulus = rsa.ReadIntegerBytes().Span;
            var exponent = rsa.ReadIntegerBytes().Span;
            rsa.ThrowIfNotEmpty();
            // DER integers are minimal: a positive one starts with a zero byte only when its next byte's top bit is set.
            if (unused != 0 || modulus[0] >= 0x80 || exponent[0] >= 0x80 || (modulus.Length == 1 && modulus[0] == 0) || (exponent.Length == 1 && exponent[0] <= 1) ||
                (exponent[^1] & 1) == 0 || (modulus[^1] & 1) == 0)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the RSA public key is malformed (a modulus and an odd public exponent above 1 are required)");
            }

            if (modulus[0] == 0) modulus = modulus[1..];
            return (modulus.Length * 8) - System.Numerics.BitOperations.LeadingZeroCount((uint)modulus[0]) + 24;
        }
        catch (AsnContentException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the RSA public key is malformed", ex);
        }
    }

    /// <summary>The error for an EC key on a curve outside P-256/P-384/P-521.</summary>
    public static PkiException UnsupportedCurve(string? curveOid, string what) =>
        new(PkiErrorCode.Unsupported,
            $"{what}: ECDSA keys on {Oids.CurveDisplayName(curveOid)} are not supported; use P-256 (or P-384, P-521)");

    /// <summary>The algorithm OID and, for EC keys, the named-curve OID (null for explicit parameters).</summary>
    internal static (string Oid, string? CurveOid) ReadAlgorithm(ReadOnlySpan<byte> spki, string what)
    {
        try
        {
            var reader = new AsnReader(spki.ToArray(), AsnEncodingRules.DER);
            var sequence = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            return ReadAlgorithmIdentifier(sequence.ReadSequence());
        }
        catch (AsnContentException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the public key structure is malformed", ex);
        }
    }

    /// <summary>Reads an AlgorithmIdentifier whose parameters may be a named-curve OID.</summary>
    internal static (string Oid, string? CurveOid) ReadAlgorithmIdentifier(AsnReader algorithm)
    {
        var oid = algorithm.ReadObjectIdentifier();
        string? curveOid = null;
        if (oid == Oids.EcPublicKey && algorithm.HasData && algorithm.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
        {
            curveOid = algorithm.ReadObjectIdentifier();
        }

        return (oid, curveOid);
    }
}
