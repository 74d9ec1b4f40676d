using System.Formats.Asn1;
using System.Security.Cryptography;

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
            using var rsa = RSA.Create();
            try
            {
                rsa.ImportSubjectPublicKeyInfo(spki, out _);
            }
            catch (CryptographicException ex)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the RSA public key is malformed", ex);
            }

            return new KeyDescription(KeyAlgorithm.Rsa, rsa.KeySize, null);
        }

        var curve = Oids.SupportedCurveName(curveOid) ?? throw UnsupportedCurve(curveOid, what);
        return new KeyDescription(KeyAlgorithm.Ec, curve switch { "P-256" => 256, "P-384" => 384, _ => 521 }, curve);
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
