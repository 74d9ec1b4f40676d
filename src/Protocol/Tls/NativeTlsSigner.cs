using System.Security.Cryptography;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using BcHashAlgorithm = Org.BouncyCastle.Tls.HashAlgorithm;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// Signs TLS handshakes with a System.Security.Cryptography key loaded once per credential.
/// BouncyCastle hands over the finished hash: for TLS 1.2 the ServerKeyExchange hash (client random, server
/// random, params), for TLS 1.3 the hash of the CertificateVerify content (64 spaces, context string, 0, transcript
/// hash). <see cref="GetStreamSigner"/> returns null so that BouncyCastle always takes the hash path
/// (<c>TlsUtilities.Generate13CertificateVerify</c> and <c>GenerateServerKeyExchangeSignature</c> both do).
/// The RSA and ECDsa objects of .NET on Linux take a fresh OpenSSL context per call, so one key signs for many
/// connections at once.
/// </summary>
internal sealed class NativeTlsSigner(AsymmetricAlgorithm key) : TlsSigner
{
    public byte[] GenerateRawSignature(SignatureAndHashAlgorithm algorithm, byte[] hash)
    {
        if (algorithm is null)
        {
            // Only TLS 1.0/1.1 sign without a named algorithm (MD5+SHA-1); the engine never negotiates them.
            throw new TlsFatalAlert(AlertDescription.internal_error, "legacy signature without algorithm");
        }

        int scheme = SignatureScheme.From(algorithm);
        switch (key)
        {
            case RSA rsa when SignatureScheme.IsRsaPss(scheme):
                // RSA-PSS with salt length = hash length, as RFC 8446 4.2.3 requires; .NET's Pss padding does that.
                return rsa.SignHash(hash, HashNameOfScheme(scheme), RSASignaturePadding.Pss);

            case RSA rsa when algorithm.Signature == SignatureAlgorithm.rsa:
                // The hash arrives bare; SignHash adds the DigestInfo wrapping that PKCS#1 v1.5 needs.
                return rsa.SignHash(hash, HashNameOf(algorithm.Hash), RSASignaturePadding.Pkcs1);

            case ECDsa ecdsa when algorithm.Signature == SignatureAlgorithm.ecdsa:
                // TLS carries ECDSA signatures as a DER SEQUENCE { r, s } (RFC 4492 5.4, RFC 8446 4.2.3).
                return ecdsa.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence);

            default:
                throw new TlsFatalAlert(AlertDescription.internal_error,
                    $"key {key.GetType().Name} cannot sign with {SignatureScheme.GetName(scheme)}");
        }
    }

    public TlsStreamSigner? GetStreamSigner(SignatureAndHashAlgorithm algorithm) => null;

    private static HashAlgorithmName HashNameOfScheme(int scheme) =>
        SignatureScheme.GetCryptoHashAlgorithm(scheme) switch
        {
            CryptoHashAlgorithm.sha256 => HashAlgorithmName.SHA256,
            CryptoHashAlgorithm.sha384 => HashAlgorithmName.SHA384,
            CryptoHashAlgorithm.sha512 => HashAlgorithmName.SHA512,
            _ => throw new TlsFatalAlert(AlertDescription.internal_error, "unsupported PSS hash"),
        };

    private static HashAlgorithmName HashNameOf(short hash) => hash switch
    {
        BcHashAlgorithm.sha256 => HashAlgorithmName.SHA256,
        BcHashAlgorithm.sha384 => HashAlgorithmName.SHA384,
        BcHashAlgorithm.sha512 => HashAlgorithmName.SHA512,
        _ => throw new TlsFatalAlert(AlertDescription.internal_error, "unsupported signature hash " + hash),
    };
}
