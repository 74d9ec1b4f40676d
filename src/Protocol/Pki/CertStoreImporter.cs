using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.OpenSsl;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;

namespace SslCluster.Protocol.Pki;

/// <summary>The files an import produced, and what the operator should know about them.</summary>
public sealed class ImportResult
{
    internal ImportResult(IReadOnlyList<CertStoreFile> files, IReadOnlyList<string> warnings)
    {
        Files = files;
        Warnings = warnings;
    }

    /// <summary>
    /// The new store files. One object is named as given; several are named NAME-key, NAME-cert (the certificate
    /// of the key, or the end of the chain), NAME-ca1, NAME-ca2, ... (its issuers, nearest first).
    /// </summary>
    public IReadOnlyList<CertStoreFile> Files { get; }

    /// <summary>Problems that did not stop the import, such as an expired certificate.</summary>
    public IReadOnlyList<string> Warnings { get; }
}

/// <summary>
/// <c>copy ssl file:PATH import NAME TYPE "password"</c>: reads PEM (certificates, PKCS#8, encrypted PKCS#8,
/// PKCS#1 RSA, SEC1 EC, OpenSSL legacy encrypted keys), DER (one certificate or key) and PKCS#12, and turns them
/// into store files. The password decrypts an encrypted input and becomes the imported key's export password; for
/// an unencrypted key it is required all the same, because every key file has an export password.
/// </summary>
public sealed class CertStoreImporter
{
    /// <summary>The largest file accepted: far above any key or chain, low enough that a wrong path cannot exhaust memory.</summary>
    public const int MaxFileBytes = 1 << 20;

    private readonly KeyProtector _protector;
    private readonly TimeProvider _time;
    private readonly int _passwordIterations;

    /// <summary>Creates an importer sealing keys with <paramref name="protector"/>.</summary>
    public CertStoreImporter(KeyProtector protector, TimeProvider timeProvider, int passwordIterations = PasswordVerifier.DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(protector);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _protector = protector;
        _time = timeProvider;
        _passwordIterations = PasswordVerifier.RequireIterations(passwordIterations, nameof(passwordIterations));
    }

    /// <summary>Imports the file at <paramref name="path"/>.</summary>
    public ImportResult ImportFile(string path, string name, PkiFileType type, string? password)
    {
        ArgumentNullException.ThrowIfNull(path);
        var what = $"file '{path}'";
        byte[] content;
        try
        {
            if (Directory.Exists(path))
            {
                throw new PkiException(PkiErrorCode.FileUnreadable, $"'{path}' is a directory, not a file");
            }

            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new PkiException(PkiErrorCode.FileUnreadable, $"{what} does not exist");
            }

            if (info.Length > MaxFileBytes)
            {
                throw new PkiException(PkiErrorCode.InvalidArgument,
                    $"{what} is {info.Length} bytes: too large for a key or certificate file (the limit is {MaxFileBytes})");
            }

            content = File.ReadAllBytes(path);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PkiException(PkiErrorCode.FileUnreadable, $"{what} cannot be read: permission denied", ex);
        }
        catch (IOException ex)
        {
            throw new PkiException(PkiErrorCode.FileUnreadable, $"{what} cannot be read: {ex.Message}", ex);
        }

        return Import(content, what, name, type, password);
    }

    /// <summary>Imports <paramref name="content"/>; <paramref name="source"/> names it in messages ("file '/tmp/a.pem'").</summary>
    public ImportResult Import(ReadOnlySpan<byte> content, string source, string name, PkiFileType type, string? password)
    {
        ArgumentNullException.ThrowIfNull(source);
        CertStoreFile.ValidateName(name);
        if (content.Length > MaxFileBytes)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"{source} is {content.Length} bytes: too large for a key or certificate file (the limit is {MaxFileBytes})");
        }

        if (content.IsEmpty || content.Trim(" \t\r\n"u8).IsEmpty)
        {
            throw new PkiException(PkiErrorCode.EmptyFile, $"{source} is empty");
        }

        var parsed = new ParsedContent();
        try
        {
            switch (type)
            {
                case PkiFileType.Pem:
                    ReadPem(content, source, password, parsed);
                    break;
                case PkiFileType.Der:
                    ReadDer(content, source, password, parsed);
                    break;
                case PkiFileType.Pkcs12:
                    ReadPkcs12(content, source, password, parsed);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(type), type, "unknown file type");
            }

            return Build(parsed, source, name, password);
        }
        finally
        {
            parsed.Dispose();
        }
    }

    private static void ReadPem(ReadOnlySpan<byte> content, string source, string? password, ParsedContent parsed)
    {
        if (!PemText.LooksLikePem(content))
        {
            var hint = DerInspector.StartsWithSequence(content)
                ? DerInspector.Classify(content) == DerShape.Pkcs12
                    ? "; it looks like PKCS#12: import it with type pkcs12"
                    : "; it looks like binary DER: import it with type der"
                : string.Empty;
            throw new PkiException(PkiErrorCode.WrongFormat, $"{source} is not PEM: it has no '-----BEGIN' line{hint}");
        }

        var blocks = PemText.Parse(content, source);
        if (blocks.Count == 0)
        {
            throw new PkiException(PkiErrorCode.WrongFormat, $"{source} is not PEM: it has no complete '-----BEGIN ...-----' line");
        }

        foreach (var block in blocks)
        {
            var what = $"{source}, PEM block '{block.Label}'";
            switch (block.Label)
            {
                case "CERTIFICATE" or "X509 CERTIFICATE":
                    RequireShape(block.Der, what, DerShape.Certificate, "a certificate");
                    parsed.Certificates.Add(block.Der);
                    break;
                case "PRIVATE KEY":
                    RequireShape(block.Der, what, DerShape.PrivateKeyInfo, "a PKCS#8 private key");
                    parsed.AddKey(PrivateKeyDecoder.FromPkcs8(block.Der, what));
                    break;
                case "ENCRYPTED PRIVATE KEY":
                    RequireShape(block.Der, what, DerShape.EncryptedPrivateKeyInfo, "an encrypted PKCS#8 private key");
                    parsed.AddKey(PrivateKeyDecoder.FromEncryptedPkcs8(block.Der, password ?? string.Empty, what));
                    break;
                case "RSA PRIVATE KEY" or "EC PRIVATE KEY" when block.IsLegacyEncrypted:
                    parsed.AddKey(DecryptLegacyPem(block, password, what));
                    break;
                case "RSA PRIVATE KEY":
                    RequireShape(block.Der, what, DerShape.RsaPrivateKey, "a PKCS#1 RSA private key");
                    parsed.AddKey(PrivateKeyDecoder.FromPkcs1(block.Der, what));
                    break;
                case "EC PRIVATE KEY":
                    RequireShape(block.Der, what, DerShape.EcPrivateKey, "a SEC1 EC private key");
                    parsed.AddKey(PrivateKeyDecoder.FromSec1(block.Der, what));
                    break;
                case "EC PARAMETERS":
                    // openssl ecparam -genkey writes the curve name before the key; the key names its curve itself.
                    break;
                case "DSA PRIVATE KEY" or "DSA PARAMETERS":
                    throw new PkiException(PkiErrorCode.Unsupported, $"{what}: {Oids.UnsupportedKeyReason(Oids.Dsa)}");
                case "DH PARAMETERS" or "X9.42 DH PARAMETERS":
                    throw new PkiException(PkiErrorCode.Unsupported, $"{what}: {Oids.UnsupportedKeyReason(Oids.DhPkcs3)}");
                case "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST":
                    throw CertificateRequestError(what);
                case "PUBLIC KEY" or "RSA PUBLIC KEY":
                    throw new PkiException(PkiErrorCode.Unsupported,
                        $"{what}: a public key alone cannot be imported; import the private key or the certificate");
                case "PKCS7" or "CMS":
                    throw new PkiException(PkiErrorCode.Unsupported,
                        $"{what}: PKCS#7 bundles are not imported; convert with 'openssl pkcs7 -print_certs -in FILE' and import the PEM certificates");
                default:
                    throw new PkiException(PkiErrorCode.Unsupported,
                        $"{what}: this kind of PEM block is not imported; a file may hold CERTIFICATE and PRIVATE KEY blocks (plain, ENCRYPTED, RSA or EC)");
            }
        }

        if (parsed.Keys.Count == 0 && parsed.Certificates.Count == 0)
        {
            throw new PkiException(PkiErrorCode.WrongFormat, $"{source} holds no certificate or private key");
        }
    }

    private static void ReadDer(ReadOnlySpan<byte> content, string source, string? password, ParsedContent parsed)
    {
        if (PemText.LooksLikePem(content))
        {
            throw new PkiException(PkiErrorCode.WrongFormat, $"{source} is PEM text, not DER: import it with type pem");
        }

        if (!DerInspector.StartsWithSequence(content))
        {
            throw new PkiException(PkiErrorCode.WrongFormat,
                $"{source} is not DER: it does not start with an ASN.1 SEQUENCE, as certificates and keys do");
        }

        DerInspector.CheckFraming(content, source, allowIndefinite: false);
        var der = content.ToArray();
        switch (DerInspector.Classify(der))
        {
            case DerShape.Certificate:
                parsed.Certificates.Add(der);
                break;
            case DerShape.PrivateKeyInfo:
                parsed.AddKey(PrivateKeyDecoder.FromPkcs8(der, source));
                break;
            case DerShape.EncryptedPrivateKeyInfo:
                parsed.AddKey(PrivateKeyDecoder.FromEncryptedPkcs8(der, password ?? string.Empty, source));
                break;
            case DerShape.RsaPrivateKey:
                parsed.AddKey(PrivateKeyDecoder.FromPkcs1(der, source));
                break;
            case DerShape.EcPrivateKey:
                parsed.AddKey(PrivateKeyDecoder.FromSec1(der, source));
                break;
            case DerShape.DsaPrivateKey:
                throw new PkiException(PkiErrorCode.Unsupported, $"{source}: {Oids.UnsupportedKeyReason(Oids.Dsa)}");
            case DerShape.Pkcs12:
                throw new PkiException(PkiErrorCode.WrongFormat, $"{source} is PKCS#12, not a single DER object: import it with type pkcs12");
            case DerShape.CertificateRequest:
                throw CertificateRequestError(source);
            default:
                throw new PkiException(PkiErrorCode.WrongFormat,
                    $"{source} is DER, but neither a certificate nor a private key (PKCS#8, PKCS#1 or SEC1)");
        }
    }

    private static void ReadPkcs12(ReadOnlySpan<byte> content, string source, string? password, ParsedContent parsed)
    {
        if (PemText.LooksLikePem(content))
        {
            throw new PkiException(PkiErrorCode.WrongFormat, $"{source} is PEM text, not PKCS#12: import it with type pem");
        }

        if (!DerInspector.StartsWithSequence(content))
        {
            throw new PkiException(PkiErrorCode.WrongFormat, $"{source} is not PKCS#12: it does not start with an ASN.1 SEQUENCE");
        }

        DerInspector.CheckFraming(content, source, allowIndefinite: true);
        var shape = DerInspector.Classify(content);
        if (shape != DerShape.Pkcs12)
        {
            var hint = shape is DerShape.Unknown ? string.Empty : $"; it holds {Describe(shape)} in DER: import it with type der";
            throw new PkiException(PkiErrorCode.WrongFormat, $"{source} is not PKCS#12{hint}");
        }

        var store = new Pkcs12StoreBuilder().Build();
        try
        {
            using var stream = new MemoryStream(content.ToArray(), writable: false);
            store.Load(stream, (password ?? string.Empty).ToCharArray());
        }
        catch (IOException ex) when (ex.Message.Contains("MAC", StringComparison.Ordinal))
        {
            throw new PkiException(PkiErrorCode.WrongPassword,
                string.IsNullOrEmpty(password)
                    ? $"{source}: the PKCS#12 file is protected by a password; give it"
                    : $"{source}: wrong password for the PKCS#12 file (its integrity check does not verify)",
                ex);
        }
        catch (InvalidCipherTextException ex)
        {
            // Files without a MAC show a wrong password only when a bag fails to decrypt.
            throw new PkiException(PkiErrorCode.WrongPassword, $"{source}: wrong password for the PKCS#12 file (a bag does not decrypt)", ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new PkiException(PkiErrorCode.Truncated, $"{source} is truncated: the PKCS#12 structure ends early", ex);
        }
        catch (SecurityUtilityException ex)
        {
            throw new PkiException(PkiErrorCode.Unsupported,
                $"{source}: the PKCS#12 file uses an encryption this product cannot read ({ex.Message}); re-export it with AES-256 (openssl pkcs12 -export, OpenSSL 3 defaults)",
                ex);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or InvalidCastException or InvalidOperationException or CryptoException)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{source}: the PKCS#12 file is damaged ({ex.Message.TrimEnd('.')})", ex);
        }

        parsed.FromPkcs12 = true;
        foreach (var alias in store.Aliases)
        {
            if (store.IsKeyEntry(alias))
            {
                var what = $"{source}, PKCS#12 key entry '{alias}'";
                var key = PrivateKeyDecoder.FromBouncyCastle(store.GetKey(alias).Key, what);
                var chain = store.GetCertificateChain(alias);
                byte[]? associated = chain is { Length: > 0 } ? chain[0].Certificate.GetEncoded() : null;
                parsed.AddKey(key, associated);
                foreach (var entry in chain ?? [])
                {
                    parsed.Certificates.Add(entry.Certificate.GetEncoded());
                }
            }
            else if (store.IsCertificateEntry(alias))
            {
                parsed.Certificates.Add(store.GetCertificate(alias).Certificate.GetEncoded());
            }
        }

        if (parsed.Keys.Count == 0 && parsed.Certificates.Count == 0)
        {
            throw new PkiException(PkiErrorCode.Corrupt, $"{source}: the PKCS#12 file holds no certificate or private key");
        }
    }

    private static DecodedPrivateKey DecryptLegacyPem(PemBlock block, string? password, string what)
    {
        PrivateKeyDecoder.RequirePassword(password, what);
        object? result;
        try
        {
            using var reader = new StringReader(block.Text);
            result = new PemReader(reader, new PasswordFinder(password!)).ReadObject();
        }
        catch (Exception ex) when (ex is InvalidCipherTextException or PemException or IOException or ArgumentException or InvalidCastException)
        {
            throw new PkiException(PkiErrorCode.WrongPassword, $"{what}: wrong password for the encrypted private key", ex);
        }

        var key = result switch
        {
            AsymmetricCipherKeyPair pair => pair.Private,
            AsymmetricKeyParameter { IsPrivate: true } single => single,
            _ => throw new PkiException(PkiErrorCode.Corrupt, $"{what}: the encrypted block does not hold a private key"),
        };
        return PrivateKeyDecoder.FromBouncyCastle(key, what);
    }

    private ImportResult Build(ParsedContent parsed, string source, string name, string? password)
    {
        if (parsed.Keys.Count > 1)
        {
            throw new PkiException(PkiErrorCode.Unsupported,
                $"{source} holds {parsed.Keys.Count} private keys: import one key (with its certificates) per file");
        }

        var now = _time.GetUtcNow();
        var certificates = LoadCertificates(parsed.Certificates, source);
        try
        {
            var key = parsed.Keys.Count == 1 ? parsed.Keys[0] : null;
            X509Certificate2? leaf = null;
            if (key is not null && certificates.Count > 0)
            {
                leaf = FindKeyCertificate(key, parsed.AssociatedCertificate, certificates, source);
            }

            var ordered = OrderChain(certificates, leaf);
            var names = Names(name, key is not null, ordered.Count);
            var files = new List<CertStoreFile>();
            var warnings = new List<string>();
            var index = 0;
            if (key is not null)
            {
                // Encrypted inputs already failed without a password; this catches plain keys and password-less PKCS#12.
                if (string.IsNullOrEmpty(password))
                {
                    throw new PkiException(PkiErrorCode.InvalidArgument, parsed.FromPkcs12
                        ? $"{source} is a PKCS#12 file without a password, but a private key needs one (it becomes the key file's export password): re-export it with a password"
                        : $"{source} holds a private key: give a password all the same, it becomes the key file's export password");
                }

                PasswordVerifier.ValidatePassword(password, "the password");
                files.Add(_protector.SealKeyFile(names[index++], key, PasswordVerifier.Create(password, _passwordIterations), now));
            }

            foreach (var certificate in ordered)
            {
                var file = CertStoreFile.FromCertificate(names[index++], certificate.RawData, now);
                files.Add(file);
                AddWarnings(file, certificate, isLeaf: ReferenceEquals(certificate, ordered[0]), now, warnings);
            }

            return new ImportResult(files.AsReadOnly(), warnings.AsReadOnly());
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    private static List<X509Certificate2> LoadCertificates(List<byte[]> ders, string source)
    {
        var certificates = new List<X509Certificate2>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var der in ders)
            {
                // The same certificate often appears twice (a PKCS#12 chain and a loose entry; a PEM pasted twice).
                if (!seen.Add(Convert.ToHexString(SHA256.HashData(der))))
                {
                    continue;
                }

                X509Certificate2 certificate;
                try
                {
                    certificate = X509CertificateLoader.LoadCertificate(der);
                }
                catch (CryptographicException ex)
                {
                    throw new PkiException(PkiErrorCode.Corrupt, $"{source}: a certificate is damaged and cannot be read", ex);
                }

                certificates.Add(certificate);
                var reason = Oids.UnsupportedKeyReason(certificate.PublicKey.Oid.Value ?? string.Empty);
                if (reason is not null)
                {
                    throw new PkiException(PkiErrorCode.Unsupported, $"{source}: certificate '{certificate.Subject}': {reason}");
                }
            }

            return certificates;
        }
        catch
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }

            throw;
        }
    }

    private static X509Certificate2 FindKeyCertificate(DecodedPrivateKey key, byte[]? associated, List<X509Certificate2> certificates, string source)
    {
        static bool Matches(X509Certificate2 certificate, DecodedPrivateKey key) =>
            certificate.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.SubjectPublicKeyInfo);

        if (associated is not null)
        {
            // PKCS#12 ties a key to its certificate by localKeyId; that certificate must be the key's.
            var tied = certificates.First(certificate => certificate.RawData.AsSpan().SequenceEqual(associated));
            if (!Matches(tied, key))
            {
                throw new PkiException(PkiErrorCode.KeyCertificateMismatch,
                    $"{source}: the private key ({key.Description.Display}) does not match its certificate '{tied.Subject}': their public keys differ");
            }

            return tied;
        }

        var match = certificates.FirstOrDefault(certificate => Matches(certificate, key));
        if (match is null)
        {
            throw new PkiException(PkiErrorCode.KeyCertificateMismatch,
                certificates.Count == 1
                    ? $"{source}: the private key ({key.Description.Display}) does not match the certificate '{certificates[0].Subject}': their public keys differ"
                    : $"{source}: the private key ({key.Description.Display}) matches none of the {certificates.Count} certificates");
        }

        return match;
    }

    // Leaf first, then its issuer, its issuer's issuer...; certificates outside that chain follow in file order.
    private static List<X509Certificate2> OrderChain(List<X509Certificate2> certificates, X509Certificate2? leaf)
    {
        if (certificates.Count <= 1)
        {
            return [.. certificates];
        }

        leaf ??= certificates.FirstOrDefault(candidate => !certificates.Any(other =>
                     !ReferenceEquals(other, candidate) && IssuedBy(other, candidate)))
                 ?? certificates[0];
        var ordered = new List<X509Certificate2> { leaf };
        var current = leaf;
        while (true)
        {
            var issuer = certificates.FirstOrDefault(candidate => !ordered.Contains(candidate) && IssuedBy(current, candidate));
            if (issuer is null)
            {
                break;
            }

            ordered.Add(issuer);
            current = issuer;
        }

        ordered.AddRange(certificates.Where(certificate => !ordered.Contains(certificate)));
        return ordered;
    }

    private static bool IssuedBy(X509Certificate2 certificate, X509Certificate2 issuer) =>
        !certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData)
        && certificate.IssuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData);

    private static List<string> Names(string name, bool hasKey, int certificateCount)
    {
        var count = (hasKey ? 1 : 0) + certificateCount;
        if (count == 1)
        {
            return [name];
        }

        var names = new List<string>();
        if (hasKey)
        {
            names.Add($"{name}-key");
        }

        for (var i = 0; i < certificateCount; i++)
        {
            names.Add(i == 0 ? $"{name}-cert" : $"{name}-ca{i.ToString(CultureInfo.InvariantCulture)}");
        }

        var longest = names.MaxBy(candidate => candidate.Length)!;
        if (longest.Length > CertStoreFile.MaxNameLength)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"import name '{name}' is too long for a file of {count} objects: they are named {string.Join(", ", names)}, "
                + $"and '{longest}' exceeds {CertStoreFile.MaxNameLength} characters");
        }

        return names;
    }

    private static void AddWarnings(CertStoreFile file, X509Certificate2 certificate, bool isLeaf, DateTimeOffset now, List<string> warnings)
    {
        if (file.NotAfter < now)
        {
            warnings.Add($"certificate '{file.Name}' ({file.Subject}) expired on {Format(file.NotAfter.Value)}: it was imported, but clients reject it");
        }
        else if (file.NotBefore > now)
        {
            warnings.Add($"certificate '{file.Name}' ({file.Subject}) is not valid before {Format(file.NotBefore.Value)}: clients reject it until then");
        }

        if (file.KeyAlgorithm == KeyAlgorithm.Rsa && file.KeyBits < KeyDescription.MinimumRsaBits)
        {
            warnings.Add($"certificate '{file.Name}' has a {file.KeyBits}-bit RSA key, which is too weak: clients reject it");
        }

        var isCa = certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(constraints => constraints.CertificateAuthority);
        if (isLeaf && !isCa && file.SubjectAltNames.Count == 0)
        {
            warnings.Add($"certificate '{file.Name}' has no subjectAltName: browsers match the host name only against it, so they will reject this certificate");
        }
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    private static void RequireShape(byte[] der, string what, DerShape expected, string description)
    {
        DerInspector.CheckFraming(der, what, allowIndefinite: false);
        var shape = DerInspector.Classify(der);
        if (shape != expected)
        {
            throw new PkiException(PkiErrorCode.Corrupt,
                $"{what} should hold {description} but holds {(shape == DerShape.Unknown ? "something else" : Describe(shape))}");
        }
    }

    private static string Describe(DerShape shape) => shape switch
    {
        DerShape.Certificate => "a certificate",
        DerShape.CertificateRequest => "a certificate request",
        DerShape.PrivateKeyInfo => "a PKCS#8 private key",
        DerShape.EncryptedPrivateKeyInfo => "an encrypted PKCS#8 private key",
        DerShape.RsaPrivateKey => "a PKCS#1 RSA private key",
        DerShape.EcPrivateKey => "a SEC1 EC private key",
        DerShape.DsaPrivateKey => "a DSA private key",
        DerShape.Pkcs12 => "a PKCS#12 file",
        _ => "an unknown structure",
    };

    private static PkiException CertificateRequestError(string what) =>
        new(PkiErrorCode.Unsupported,
            $"{what}: a certificate request cannot be imported; have a CA sign it (or use ssl gencert) and import the certificate");

    private sealed class PasswordFinder(string password) : IPasswordFinder
    {
        public char[] GetPassword() => password.ToCharArray();
    }

    /// <summary>What the readers found, before naming and sealing; wipes clear key bytes on dispose.</summary>
    private sealed class ParsedContent : IDisposable
    {
        public List<DecodedPrivateKey> Keys { get; } = [];

        public List<byte[]> Certificates { get; } = [];

        public byte[]? AssociatedCertificate { get; private set; }

        public bool FromPkcs12 { get; set; }

        public void AddKey(DecodedPrivateKey key, byte[]? associatedCertificate = null)
        {
            Keys.Add(key);
            AssociatedCertificate ??= associatedCertificate;
        }

        public void Dispose()
        {
            foreach (var key in Keys)
            {
                key.Dispose();
            }
        }
    }
}
