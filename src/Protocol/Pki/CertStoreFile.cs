using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Pki;

/// <summary>What a file of the certificate store holds.</summary>
public enum CertStoreFileKind
{
    /// <summary>An RSA private key (made by <c>ssl genrsa</c> or imported).</summary>
    RsaPrivateKey,

    /// <summary>An ECDSA private key (made by <c>ssl genecdsa</c> or imported).</summary>
    EcPrivateKey,

    /// <summary>An X.509 certificate (made by <c>ssl gencert</c> or imported).</summary>
    Certificate,
}

/// <summary>
/// One named file of the certificate store, the unit that <c>ssl genrsa</c>, <c>ssl gencert</c> and
/// <c>copy ssl ... import</c> create and <c>ssl associate</c> refers to. Immutable. A key file carries its private
/// key only sealed under the master key (<see cref="KeyProtector"/>) plus its public key in the clear, so listing,
/// matching a key to a certificate or persisting the store never needs the secret. All metadata is derived from
/// the bytes when the file is made, so it cannot disagree with them.
/// </summary>
/// <remarks>
/// Equality is written by hand: the compiler-made record equality would compare the byte arrays by reference,
/// which makes two decodings of the same stored file unequal. Here two files are equal when their name, kind,
/// creation time, bytes and password verifier are equal; the remaining properties are functions of those.
/// </remarks>
public sealed record CertStoreFile
{
    /// <summary>The longest file name accepted.</summary>
    public const int MaxNameLength = 32;

    private const int FormatVersion = 1;

    private readonly byte[] _sealedPrivateKey;
    private readonly byte[] _publicKeyInfo;
    private readonly byte[] _certificateDer;

    private CertStoreFile(
        string name,
        CertStoreFileKind kind,
        DateTimeOffset createdAt,
        byte[] sealedPrivateKey,
        byte[] publicKeyInfo,
        byte[] certificateDer,
        KeyDescription key,
        PasswordVerifier? exportPassword)
    {
        Name = name;
        Kind = kind;
        CreatedAt = createdAt.ToUniversalTime();
        _sealedPrivateKey = sealedPrivateKey;
        _publicKeyInfo = publicKeyInfo;
        _certificateDer = certificateDer;
        KeyAlgorithm = key.Algorithm;
        KeyBits = key.Bits;
        Curve = key.Curve;
        ExportPassword = exportPassword;
        Sha256Fingerprint = FormatFingerprint(SHA256.HashData(kind == CertStoreFileKind.Certificate ? certificateDer : publicKeyInfo));
    }

    /// <summary>The file name, unique in the store.</summary>
    public string Name { get; }

    /// <summary>What the file holds.</summary>
    public CertStoreFileKind Kind { get; }

    /// <summary>When the file was generated or imported (UTC).</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>True for key files.</summary>
    public bool IsPrivateKey => Kind != CertStoreFileKind.Certificate;

    /// <summary>For key files, the PKCS#8 private key sealed by <see cref="KeyProtector"/>; empty for certificates.</summary>
    public ReadOnlyMemory<byte> SealedPrivateKey => _sealedPrivateKey;

    /// <summary>The DER SubjectPublicKeyInfo: of the key, or of the certificate's subject.</summary>
    public ReadOnlyMemory<byte> PublicKeyInfo => _publicKeyInfo;

    /// <summary>For certificates, the DER encoding; empty for key files.</summary>
    public ReadOnlyMemory<byte> CertificateDer => _certificateDer;

    /// <summary>Algorithm of the (public) key.</summary>
    public KeyAlgorithm KeyAlgorithm { get; }

    /// <summary>RSA modulus size, or the EC curve's size (256, 384, 521).</summary>
    public int KeyBits { get; }

    /// <summary>"P-256", "P-384" or "P-521" for EC keys; null for RSA.</summary>
    public string? Curve { get; }

    /// <summary>For key files, the verifier of the password needed to export the key; null for certificates.</summary>
    public PasswordVerifier? ExportPassword { get; }

    /// <summary>
    /// SHA-256 of the certificate DER (what <c>openssl x509 -fingerprint -sha256</c> prints) or, for key files,
    /// of the SubjectPublicKeyInfo; upper-case hex pairs separated by colons.
    /// </summary>
    public string Sha256Fingerprint { get; }

    /// <summary>Certificate subject, e.g. "CN=www.example.com, O=Example, C=US"; null for key files.</summary>
    public string? Subject { get; private init; }

    /// <summary>Certificate issuer; null for key files.</summary>
    public string? Issuer { get; private init; }

    /// <summary>Certificate serial number in upper-case hex, as <c>openssl x509 -serial</c> prints it; null for key files.</summary>
    public string? SerialNumber { get; private init; }

    /// <summary>Start of the certificate's validity (UTC); null for key files.</summary>
    public DateTimeOffset? NotBefore { get; private init; }

    /// <summary>End of the certificate's validity (UTC); null for key files.</summary>
    public DateTimeOffset? NotAfter { get; private init; }

    /// <summary>DNS names and IP addresses of the certificate's subjectAltName extension; empty for key files.</summary>
    public IReadOnlyList<string> SubjectAltNames { get; private init; } = [];

    /// <summary>"RSA 2048" or "ECDSA P-256".</summary>
    public string KeyDisplay => KeyAlgorithm == KeyAlgorithm.Rsa ? $"RSA {KeyBits}" : $"ECDSA {Curve}";

    /// <summary>Checks a store file name: 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit.</summary>
    public static void ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument, "a file name is required");
        }

        if (name.Length > MaxNameLength)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"file name '{name}' is {name.Length} characters long: the limit is {MaxNameLength}");
        }

        if (!char.IsAsciiLetterOrDigit(name[0]))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"file name '{name}' must start with a letter or a digit");
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-'))
            {
                throw new PkiException(PkiErrorCode.InvalidArgument,
                    $"file name '{name}' contains '{c}': use only letters, digits, '.', '_' and '-'");
            }
        }
    }

    /// <summary>
    /// A certificate file from DER bytes; the metadata is read from the certificate (in managed code, see
    /// <see cref="CertificateMetadata"/>: a restarted node decodes every certificate of its store).
    /// </summary>
    public static CertStoreFile FromCertificate(string name, ReadOnlySpan<byte> der, DateTimeOffset createdAt)
    {
        ValidateName(name);
        var bytes = der.ToArray();
        var fields = CertificateMetadata.Parse(bytes, $"certificate '{name}'");
        var key = KeyDescription.FromSubjectPublicKeyInfo(fields.SubjectPublicKeyInfo, $"certificate '{name}'");
        return new CertStoreFile(name, CertStoreFileKind.Certificate, createdAt, [], fields.SubjectPublicKeyInfo, bytes, key, null)
        {
            Subject = fields.Subject,
            Issuer = fields.Issuer,
            SerialNumber = fields.SerialNumber,
            NotBefore = fields.NotBefore,
            NotAfter = fields.NotAfter,
            SubjectAltNames = fields.SubjectAltNames,
        };
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<byte[], CertStoreFile> Decoded = new();

    /// <summary>
    /// Decodes a store file once per array: a node keeps the same array for a file as long as its digest does not
    /// change, so a certificate is parsed once however many revisions, listeners and checks use it. The array must
    /// never be written to afterwards (store files are immutable throughout).
    /// </summary>
    public static CertStoreFile DecodeShared(byte[] encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        return Decoded.GetValue(encoded, e => Decode(e));
    }

    /// <summary>Decodes a file written by <see cref="Encode"/> (the persisted form).</summary>
    public static CertStoreFile Decode(ReadOnlySpan<byte> encoded)
    {
        try
        {
            var outer = new AsnReader(encoded.ToArray(), AsnEncodingRules.DER);
            var reader = outer.ReadSequence();
            outer.ThrowIfNotEmpty();
            if (!reader.TryReadInt32(out var version) || version != FormatVersion)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"stored file has format version {version}, which this build does not know");
            }

            var name = reader.ReadCharacterString(UniversalTagNumber.UTF8String);
            var kind = KindFromCode(reader.ReadEnumeratedValue<StoredKind>());
            if (!reader.TryReadInt64(out var createdTicks) || createdTicks < DateTimeOffset.MinValue.UtcTicks || createdTicks > DateTimeOffset.MaxValue.UtcTicks)
            {
                throw new PkiException(PkiErrorCode.Corrupt, $"stored file '{name}' has an out-of-range creation time");
            }

            var createdAt = new DateTimeOffset(createdTicks, TimeSpan.Zero);
            CertStoreFile file;
            if (kind == CertStoreFileKind.Certificate)
            {
                var der = reader.ReadOctetString(new Asn1Tag(TagClass.ContextSpecific, 1));
                file = FromCertificate(name, der, createdAt);
            }
            else
            {
                var key = reader.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0));
                var sealedKey = key.ReadOctetString();
                var spki = key.ReadEncodedValue().ToArray();
                var verifier = key.ReadSequence();
                if (!verifier.TryReadInt32(out var iterations))
                {
                    throw new PkiException(PkiErrorCode.Corrupt, $"stored key file '{name}' has an out-of-range iteration count");
                }

                var exportPassword = PasswordVerifier.FromStored(iterations, verifier.ReadOctetString(), verifier.ReadOctetString());
                verifier.ThrowIfNotEmpty();
                key.ThrowIfNotEmpty();
                file = FromSealedKey(name, kind, sealedKey, spki, exportPassword, createdAt);
            }

            reader.ThrowIfNotEmpty();
            return file;
        }
        catch (AsnContentException ex)
        {
            throw new PkiException(PkiErrorCode.Corrupt, "stored certificate-store file is malformed", ex);
        }
    }

    /// <summary>
    /// The persisted form: a small DER structure (version, name, kind, creation time in UTC ticks, then the
    /// sealed key, public key and password verifier, or the certificate). It holds no clear secret, so it may go
    /// to any journal.
    /// </summary>
    public byte[] Encode()
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(FormatVersion);
            writer.WriteCharacterString(UniversalTagNumber.UTF8String, Name);
            writer.WriteEnumeratedValue(CodeFromKind(Kind));
            // UTC ticks rather than GeneralizedTime: System.Formats.Asn1 reads some fractional seconds back one
            // tick off, and a stored file must decode equal to what was stored.
            writer.WriteInteger(CreatedAt.UtcTicks);
            if (Kind == CertStoreFileKind.Certificate)
            {
                writer.WriteOctetString(_certificateDer, new Asn1Tag(TagClass.ContextSpecific, 1));
            }
            else
            {
                using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0)))
                {
                    writer.WriteOctetString(_sealedPrivateKey);
                    writer.WriteEncodedValue(_publicKeyInfo);
                    using (writer.PushSequence())
                    {
                        writer.WriteInteger(ExportPassword!.Iterations);
                        writer.WriteOctetString(ExportPassword.Salt.Span);
                        writer.WriteOctetString(ExportPassword.Hash.Span);
                    }
                }
            }
        }

        return writer.Encode();
    }

    /// <summary>True when a certificate is within its validity period at <paramref name="now"/>; false for key files.</summary>
    public bool IsValidAt(DateTimeOffset now) => NotBefore <= now && now <= NotAfter;

    /// <summary>A key file from an already sealed private key; used by generation, import and <see cref="Decode"/>.</summary>
    internal static CertStoreFile FromSealedKey(
        string name,
        CertStoreFileKind kind,
        byte[] sealedPrivateKey,
        byte[] publicKeyInfo,
        PasswordVerifier exportPassword,
        DateTimeOffset createdAt)
    {
        ValidateName(name);
        var key = KeyDescription.FromSubjectPublicKeyInfo(publicKeyInfo, $"key file '{name}'");
        var expected = key.Algorithm == KeyAlgorithm.Rsa ? CertStoreFileKind.RsaPrivateKey : CertStoreFileKind.EcPrivateKey;
        if (kind != expected)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"key file '{name}' is marked {kind} but holds an {key.Display} public key");
        }

        return new CertStoreFile(name, kind, createdAt, sealedPrivateKey, publicKeyInfo, [], key, exportPassword);
    }

    /// <inheritdoc />
    public bool Equals(CertStoreFile? other) =>
        other is not null
        && Name == other.Name
        && Kind == other.Kind
        && CreatedAt == other.CreatedAt
        && _sealedPrivateKey.AsSpan().SequenceEqual(other._sealedPrivateKey)
        && _publicKeyInfo.AsSpan().SequenceEqual(other._publicKeyInfo)
        && _certificateDer.AsSpan().SequenceEqual(other._certificateDer)
        && Equals(ExportPassword, other.ExportPassword);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Kind, Sha256Fingerprint);

    /// <inheritdoc />
    public override string ToString() => Kind == CertStoreFileKind.Certificate
        ? $"certificate '{Name}' ({Subject}, {KeyDisplay}, serial {SerialNumber}, SHA-256 {Sha256Fingerprint})"
        : $"key file '{Name}' ({KeyDisplay}, public key SHA-256 {Sha256Fingerprint})";

    internal static string FormatFingerprint(ReadOnlySpan<byte> hash) => string.Join(':', Convert.ToHexString(hash).Chunk(2).Select(pair => new string(pair)));


    // Stored codes are fixed here, apart from the public enum, so reordering the enum never changes stored data.
    private enum StoredKind
    {
        RsaPrivateKey = 0,
        EcPrivateKey = 1,
        Certificate = 2,
    }

    private static StoredKind CodeFromKind(CertStoreFileKind kind) => kind switch
    {
        CertStoreFileKind.RsaPrivateKey => StoredKind.RsaPrivateKey,
        CertStoreFileKind.EcPrivateKey => StoredKind.EcPrivateKey,
        _ => StoredKind.Certificate,
    };

    private static CertStoreFileKind KindFromCode(StoredKind code) => code switch
    {
        StoredKind.RsaPrivateKey => CertStoreFileKind.RsaPrivateKey,
        StoredKind.EcPrivateKey => CertStoreFileKind.EcPrivateKey,
        StoredKind.Certificate => CertStoreFileKind.Certificate,
        _ => throw new PkiException(PkiErrorCode.Corrupt, $"stored file has unknown kind code {(int)code}"),
    };
}
