using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// <c>ssl gencsr</c> (a PKCS#10 request to send to a CA) and <c>ssl gencert</c> (a self-signed server certificate).
/// </summary>
public sealed class CertificateFactory
{
    /// <summary>The longest validity <see cref="CreateSelfSigned"/> accepts, in days (ten years).</summary>
    public const int MaxValidityDays = 3650;

    /// <summary>
    /// How far before "now" a new certificate starts to be valid: a client whose clock is a few minutes behind
    /// would otherwise reject a certificate made just now as not yet valid.
    /// </summary>
    public static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromMinutes(5);

    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    private readonly KeyProtector _protector;
    private readonly TimeProvider _time;

    /// <summary>Creates a factory that opens keys with <paramref name="protector"/> and reads the time from <paramref name="timeProvider"/>.</summary>
    public CertificateFactory(KeyProtector protector, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(protector);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _protector = protector;
        _time = timeProvider;
    }

    /// <summary>
    /// <c>ssl gencsr KEYFILE</c>: a PEM "CERTIFICATE REQUEST" for the key's public key, signed with the key, with the
    /// subject and a subjectAltName extension request (the CN when no names are given and it is a host name).
    /// </summary>
    public string CreateCsr(CertStoreFile keyFile, SubjectName subject, IReadOnlyList<string>? subjectAltNames = null)
    {
        ArgumentNullException.ThrowIfNull(keyFile);
        ArgumentNullException.ThrowIfNull(subject);
        RequireKeyFile(keyFile, "key");
        var name = subject.ToDistinguishedName();
        var san = SubjectAltNames.Build(subjectAltNames, subject.CommonName);
        using var key = _protector.OpenPrivateKey(keyFile);
        var hash = HashFor(keyFile);
        var request = key is RSA rsa
            ? new CertificateRequest(name, rsa, hash, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(name, (ECDsa)key, hash);
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        return request.CreateSigningRequestPem();
    }

    /// <summary>
    /// <c>ssl gencert certkey CERTKEY signkey SIGNKEY NAME "password"</c>: a certificate for <paramref name="certKey"/>'s
    /// public key, signed with <paramref name="signKey"/>. The password must be <paramref name="signKey"/>'s export
    /// password: signing with a key needs the same secret as taking the key out of the store.
    /// </summary>
    /// <remarks>
    /// The issuer name is always the subject. With the same key on both sides (the normal case) the result is a
    /// true self-signed certificate. With two different keys it is only self-issued: its signature verifies with
    /// the sign key, not with its own public key, so clients trust it only if they hold a certificate of the sign
    /// key under the same name. The CSS allowed this, so it is kept; the authority key identifier names the sign
    /// key so that such a chain can be built.
    /// The certificate is a TLS server leaf: CA:FALSE (browsers refuse a CA certificate as a server certificate),
    /// keyUsage digitalSignature (plus keyEncipherment for RSA, for TLS 1.2 RSA key exchange), extendedKeyUsage
    /// serverAuth, subject and authority key identifiers, and the subjectAltName (the CN when none are given).
    /// </remarks>
    public CertStoreFile CreateSelfSigned(
        string certificateName,
        CertStoreFile certKey,
        CertStoreFile signKey,
        string password,
        SubjectName subject,
        int validityDays,
        IReadOnlyList<string>? subjectAltNames = null)
    {
        ArgumentNullException.ThrowIfNull(certKey);
        ArgumentNullException.ThrowIfNull(signKey);
        ArgumentNullException.ThrowIfNull(subject);
        CertStoreFile.ValidateName(certificateName);
        RequireKeyFile(certKey, "certkey");
        RequireKeyFile(signKey, "signkey");
        if (validityDays < 1 || validityDays > MaxValidityDays)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"a validity of {validityDays} days is not accepted: give 1 to {MaxValidityDays} days");
        }

        if (password is null || !signKey.ExportPassword!.Matches(password))
        {
            throw new PkiException(PkiErrorCode.WrongPassword,
                $"wrong password for sign key '{signKey.Name}': give the password it was generated or imported with");
        }

        var name = subject.ToDistinguishedName();
        var san = SubjectAltNames.Build(subjectAltNames, subject.CommonName);
        var publicKey = PublicKey.CreateFromSubjectPublicKeyInfo(certKey.PublicKeyInfo.Span, out _);
        var hash = HashFor(signKey);
        var request = new CertificateRequest(name, publicKey, hash, signKey.KeyAlgorithm == KeyAlgorithm.Rsa ? RSASignaturePadding.Pkcs1 : null);
        var usages = certKey.KeyAlgorithm == KeyAlgorithm.Rsa
            ? X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment
            : X509KeyUsageFlags.DigitalSignature;
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usages, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid)], false));
        var subjectKeyId = new X509SubjectKeyIdentifierExtension(publicKey, false);
        request.CertificateExtensions.Add(subjectKeyId);
        var signKeyId = new X509SubjectKeyIdentifierExtension(
            PublicKey.CreateFromSubjectPublicKeyInfo(signKey.PublicKeyInfo.Span, out _), false);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(signKeyId));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        var now = _time.GetUtcNow();
        // Whole seconds: the certificate encodes no fractions, and the store's metadata should equal what is encoded.
        var start = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        using var signer = _protector.OpenPrivateKey(signKey);
        var generator = signer is RSA rsa
            ? X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1)
            : X509SignatureGenerator.CreateForECDsa((ECDsa)signer);
        using var certificate = request.Create(name, generator, start - ClockSkewAllowance, start.AddDays(validityDays), NewSerialNumber());
        return CertStoreFile.FromCertificate(certificateName, certificate.RawData, now);
    }

    /// <summary>
    /// A random 16-byte serial number: top bit clear so the INTEGER is positive, next bit set so the first byte is
    /// never zero (no leading zero to strip, never the value 0), which leaves 126 random bits, far above the 64
    /// the CA/Browser Forum asks for.
    /// </summary>
    internal static byte[] NewSerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40);
        return serial;
    }

    // RSA signs with SHA-256 everywhere; ECDSA matches the hash to the curve size, as TLS 1.3 signature schemes do.
    private static HashAlgorithmName HashFor(CertStoreFile key) => key.Curve switch
    {
        "P-384" => HashAlgorithmName.SHA384,
        "P-521" => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    private static void RequireKeyFile(CertStoreFile file, string role)
    {
        if (!file.IsPrivateKey)
        {
            throw new PkiException(PkiErrorCode.WrongFileKind,
                $"{role} '{file.Name}' is a certificate file: give a key file made by ssl genrsa, ssl genecdsa or an import");
        }
    }
}
