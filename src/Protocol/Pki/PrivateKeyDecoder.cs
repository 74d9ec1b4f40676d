using System.Formats.Asn1;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;

namespace SslCluster.Protocol.Pki;

/// <summary>A private key checked and normalised to PKCS#8, ready to be sealed; wipes its clear bytes on dispose.</summary>
internal sealed class DecodedPrivateKey : IDisposable
{
    public DecodedPrivateKey(CertStoreFileKind kind, byte[] pkcs8, byte[] subjectPublicKeyInfo, KeyDescription description)
    {
        Kind = kind;
        Pkcs8 = pkcs8;
        SubjectPublicKeyInfo = subjectPublicKeyInfo;
        Description = description;
    }

    public CertStoreFileKind Kind { get; }

    public byte[] Pkcs8 { get; }

    public byte[] SubjectPublicKeyInfo { get; }

    public KeyDescription Description { get; }

    public void Dispose() => CryptographicOperations.ZeroMemory(Pkcs8);
}

/// <summary>
/// Turns the private key encodings we import (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1, BouncyCastle key objects)
/// into one checked form: algorithm allowed, size allowed, the key consistent with itself, re-exported as PKCS#8
/// by the platform so the store never keeps odd encodings around.
/// </summary>
internal static class PrivateKeyDecoder
{
    private static readonly byte[] SelfTestData = "sslcluster pairwise consistency test"u8.ToArray();

    /// <summary>From an RSA or ECDsa object (generation).</summary>
    public static DecodedPrivateKey FromAlgorithm(AsymmetricAlgorithm key, string what)
    {
        var pkcs8 = key.ExportPkcs8PrivateKey();
        try
        {
            return FromPkcs8(pkcs8, what);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>From an unencrypted PKCS#8 PrivateKeyInfo.</summary>
    public static DecodedPrivateKey FromPkcs8(ReadOnlySpan<byte> pkcs8, string what)
    {
        string oid;
        string? curveOid;
        bool explicitCurve;
        try
        {
            var reader = new AsnReader(pkcs8.ToArray(), AsnEncodingRules.BER);
            var info = reader.ReadSequence();
            info.ReadInteger();
            var algorithm = info.ReadSequence();
            (oid, curveOid) = KeyDescription.ReadAlgorithmIdentifier(algorithm);
            explicitCurve = oid == Oids.EcPublicKey && curveOid is null;
        }
        catch (AsnContentException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the PKCS#8 private key structure is malformed", ex);
        }

        var reason = Oids.UnsupportedKeyReason(oid);
        if (reason is not null)
        {
            throw new PkiException(PkiErrorCode.Unsupported, $"{what}: {reason}");
        }

        if (explicitCurve)
        {
            throw new PkiException(PkiErrorCode.Unsupported,
                $"{what}: the EC key spells out its curve parameters instead of naming the curve; re-encode it with a named curve (openssl ec -param_enc named_curve)");
        }

        if (oid == Oids.EcPublicKey && Oids.SupportedCurveName(curveOid) is null)
        {
            throw KeyDescription.UnsupportedCurve(curveOid, what);
        }

        AsymmetricAlgorithm key = oid == Oids.Rsa ? RSA.Create() : ECDsa.Create();
        try
        {
            try
            {
                key.ImportPkcs8PrivateKey(pkcs8, out var read);
                if (read != pkcs8.Length)
                {
                    throw new PkiException(PkiErrorCode.Corrupt, $"{what}: {pkcs8.Length - read} bytes follow the private key structure");
                }
            }
            catch (CryptographicException ex)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the private key cannot be read ({ex.Message.TrimEnd('.')})", ex);
            }

            if (key is RSA && key.KeySize < KeyDescription.MinimumRsaBits)
            {
                throw new PkiException(PkiErrorCode.WeakKey,
                    $"{what}: the RSA key is {key.KeySize} bits, which is too weak (clients reject it): use 2048 bits or more");
            }

            if (key is RSA && key.KeySize > KeyDescription.MaximumRsaBits)
            {
                throw new PkiException(PkiErrorCode.Unsupported,
                    $"{what}: the RSA key is {key.KeySize} bits; the limit is {KeyDescription.MaximumRsaBits}");
            }

            CheckPairwiseConsistency(key, what);
            var spki = key.ExportSubjectPublicKeyInfo();
            var kind = key is RSA ? CertStoreFileKind.RsaPrivateKey : CertStoreFileKind.EcPrivateKey;
            return new DecodedPrivateKey(kind, key.ExportPkcs8PrivateKey(), spki, KeyDescription.FromSubjectPublicKeyInfo(spki, what));
        }
        finally
        {
            key.Dispose();
        }
    }

    /// <summary>From a PKCS#1 RSAPrivateKey ("RSA PRIVATE KEY").</summary>
    public static DecodedPrivateKey FromPkcs1(ReadOnlySpan<byte> der, string what)
    {
        using var rsa = RSA.Create();
        try
        {
            rsa.ImportRSAPrivateKey(der, out var read);
            if (read != der.Length)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what}: {der.Length - read} bytes follow the RSA private key structure");
            }
        }
        catch (CryptographicException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: not a valid PKCS#1 RSA private key", ex);
        }

        return FromAlgorithm(rsa, what);
    }

    /// <summary>From a SEC1 ECPrivateKey ("EC PRIVATE KEY").</summary>
    public static DecodedPrivateKey FromSec1(ReadOnlySpan<byte> der, string what)
    {
        // Look at the curve first: for a curve the platform does not know, its import error would say nothing useful.
        string? curveOid = null;
        try
        {
            var reader = new AsnReader(der.ToArray(), AsnEncodingRules.BER);
            var key = reader.ReadSequence();
            key.ReadInteger();
            key.ReadOctetString();
            var parametersTag = new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true);
            if (key.HasData && key.PeekTag().HasSameClassAndValue(parametersTag))
            {
                var parameters = key.ReadSequence(parametersTag);
                if (!parameters.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
                {
                    throw new PkiException(PkiErrorCode.Unsupported,
                        $"{what}: the EC key spells out its curve parameters instead of naming the curve; re-encode it with a named curve (openssl ec -param_enc named_curve)");
                }

                curveOid = parameters.ReadObjectIdentifier();
            }
        }
        catch (AsnContentException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: not a valid SEC1 EC private key", ex);
        }

        if (curveOid is null)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the EC private key does not say which curve it is on");
        }

        if (Oids.SupportedCurveName(curveOid) is null)
        {
            throw KeyDescription.UnsupportedCurve(curveOid, what);
        }

        using var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportECPrivateKey(der, out var read);
            if (read != der.Length)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"{what}: {der.Length - read} bytes follow the EC private key structure");
            }
        }
        catch (CryptographicException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: not a valid SEC1 EC private key", ex);
        }

        return FromAlgorithm(ecdsa, what);
    }

    /// <summary>From an EncryptedPrivateKeyInfo ("ENCRYPTED PRIVATE KEY"), decrypted with <paramref name="password"/>.</summary>
    public static DecodedPrivateKey FromEncryptedPkcs8(ReadOnlySpan<byte> der, string password, string what)
    {
        RequirePassword(password, what);
        EncryptedPrivateKeyInfo encrypted;
        try
        {
            encrypted = EncryptedPrivateKeyInfo.GetInstance(der.ToArray());
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidCastException or IOException)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: not a valid encrypted PKCS#8 private key", ex);
        }

        byte[] pkcs8;
        try
        {
            // BouncyCastle decrypts every PBES1/PBES2/PKCS#12 scheme openssl writes, without knowing the key type first.
            pkcs8 = PrivateKeyInfoFactory.CreatePrivateKeyInfo(password.ToCharArray(), encrypted).GetEncoded();
        }
        catch (SecurityUtilityException ex)
        {
            throw new PkiException(PkiErrorCode.Unsupported,
                $"{what}: the key is encrypted with {encrypted.EncryptionAlgorithm.Algorithm.Id}, a scheme this product cannot decrypt; re-export it with AES-256 (openssl pkcs8 -topk8 -v2 aes-256-cbc)",
                ex);
        }
        catch (Exception ex) when (ex is InvalidCipherTextException or DataLengthException or ArgumentException or InvalidCastException or IOException or InvalidOperationException)
        {
            // A wrong password gives bad padding, or (1 time in ~256) good padding over garbage that fails to parse.
            throw new PkiException(PkiErrorCode.WrongPassword, $"{what}: wrong password for the encrypted private key", ex);
        }

        try
        {
            return FromPkcs8(pkcs8, what);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>From a BouncyCastle private key (PKCS#12 entries, legacy encrypted PEM).</summary>
    public static DecodedPrivateKey FromBouncyCastle(AsymmetricKeyParameter privateKey, string what)
    {
        byte[] pkcs8;
        try
        {
            pkcs8 = PrivateKeyInfoFactory.CreatePrivateKeyInfo(privateKey).GetEncoded();
        }
        catch (ArgumentException ex)
        {
            throw new PkiException(PkiErrorCode.Unsupported, $"{what}: a private key of type {privateKey.GetType().Name} is not supported", ex);
        }

        try
        {
            return FromPkcs8(pkcs8, what);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>A password is needed to decrypt; say so plainly rather than reporting a wrong one.</summary>
    public static void RequirePassword(string? password, string what)
    {
        if (string.IsNullOrEmpty(password))
        {
            throw new PkiException(PkiErrorCode.WrongPassword, $"{what}: the private key is encrypted; give its password");
        }
    }

    // A FIPS-style pairwise test: a damaged key (for instance a PKCS#1 file with one wrong CRT value) imports
    // without complaint and then signs garbage, which clients would report only as a failed handshake.
    private static void CheckPairwiseConsistency(AsymmetricAlgorithm key, string what)
    {
        bool valid;
        try
        {
            if (key is RSA rsa)
            {
                var signature = rsa.SignData(SelfTestData, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                valid = rsa.VerifyData(SelfTestData, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            }
            else
            {
                var ecdsa = (ECDsa)key;
                var signature = ecdsa.SignData(SelfTestData, HashAlgorithmName.SHA256);
                valid = ecdsa.VerifyData(SelfTestData, signature, HashAlgorithmName.SHA256);
            }
        }
        catch (CryptographicException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the private key is damaged (it cannot sign)", ex);
        }

        if (!valid)
        {
            throw new PkiException(PkiErrorCode.Corrupt,
                $"{what}: the private key is damaged (its signature does not verify with its own public key)");
        }
    }
}
