using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// <c>copy ssl file:PATH export NAME TYPE "password"</c>. Certificates go out as PEM or DER. A private key goes out
/// only encrypted, as PKCS#8 PEM (PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256) or as PKCS#12 with its certificates,
/// and only when the password matches the key file's export password; the output is encrypted under that same
/// password, so what the operator typed is what opens the file.
/// </summary>
public sealed class CertStoreExporter
{
    /// <summary>PBKDF2 iterations for exported keys: the same cost as the stored verifier, and openssl reads it in ~0.1 s.</summary>
    public const int ExportIterations = PasswordVerifier.DefaultIterations;

    private readonly KeyProtector _protector;

    /// <summary>Creates an exporter that opens keys with <paramref name="protector"/>.</summary>
    public CertStoreExporter(KeyProtector protector)
    {
        ArgumentNullException.ThrowIfNull(protector);
        _protector = protector;
    }

    /// <summary>
    /// The export command: a certificate as <see cref="PkiFileType.Pem"/> or <see cref="PkiFileType.Der"/>; a key
    /// as <see cref="PkiFileType.Pem"/> (encrypted PKCS#8) or <see cref="PkiFileType.Pkcs12"/> together with
    /// <paramref name="certificates"/> (its certificate first, then the chain).
    /// </summary>
    public byte[] Export(CertStoreFile file, PkiFileType type, string? password, IReadOnlyList<CertStoreFile>? certificates = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.IsPrivateKey)
        {
            return type switch
            {
                PkiFileType.Pem => Encoding.ASCII.GetBytes(CertificateToPem(file)),
                PkiFileType.Der => CertificateToDer(file),
                _ => throw new PkiException(PkiErrorCode.InvalidArgument,
                    $"certificate '{file.Name}' is exported as pem or der; for a PKCS#12 file export its key file with type pkcs12 and give this certificate"),
            };
        }

        return type switch
        {
            PkiFileType.Pem => Encoding.ASCII.GetBytes(PrivateKeyToEncryptedPem(file, password)),
            PkiFileType.Pkcs12 => ToPkcs12(file, password, certificates ?? []),
            _ => throw new PkiException(PkiErrorCode.InvalidArgument,
                $"key file '{file.Name}' cannot be exported as der: a private key leaves the store only encrypted; use type pem (encrypted PKCS#8) or pkcs12"),
        };
    }

    /// <summary>A certificate file as a PEM "CERTIFICATE" block.</summary>
    public static string CertificateToPem(CertStoreFile certificate) =>
        PemEncoding.WriteString("CERTIFICATE", CertificateToDer(certificate)) + "\n";

    /// <summary>A certificate file's DER bytes.</summary>
    public static byte[] CertificateToDer(CertStoreFile certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        RequireCertificate(certificate);
        return certificate.CertificateDer.ToArray();
    }

    /// <summary>The private key as PEM "ENCRYPTED PRIVATE KEY" (PKCS#8, PBES2 with AES-256-CBC), under <paramref name="password"/>.</summary>
    public string PrivateKeyToEncryptedPem(CertStoreFile keyFile, string? password)
    {
        var checkedPassword = CheckExportPassword(keyFile, password);
        using var key = _protector.OpenPrivateKey(keyFile);
        var parameters = new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, ExportIterations);
        return new string(key.ExportEncryptedPkcs8PrivateKeyPem(checkedPassword, parameters)) + "\n";
    }

    /// <summary>
    /// A PKCS#12 file of the key and <paramref name="certificates"/> (the key's certificate first), encrypted with
    /// PBES2 AES-256-CBC and MACed with HMAC-SHA256 under <paramref name="password"/>, as OpenSSL 3 writes by default.
    /// </summary>
    public byte[] ToPkcs12(CertStoreFile keyFile, string? password, IReadOnlyList<CertStoreFile> certificates)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        var checkedPassword = CheckExportPassword(keyFile, password);
        if (certificates.Count == 0)
        {
            throw new PkiException(PkiErrorCode.InvalidArgument,
                $"a PKCS#12 export of key file '{keyFile.Name}' needs its certificate: give the certificate file (and any chain)");
        }

        foreach (var certificate in certificates)
        {
            RequireCertificate(certificate);
        }

        TlsKeyMaterial.EnsureKeyMatchesCertificate(keyFile, certificates[0]);
        var collection = new X509Certificate2Collection();
        try
        {
            using var key = _protector.OpenPrivateKey(keyFile);
            using var leaf = X509CertificateLoader.LoadCertificate(certificates[0].CertificateDer.Span);
            collection.Add(key is RSA rsa ? leaf.CopyWithPrivateKey(rsa) : leaf.CopyWithPrivateKey((ECDsa)key));
            foreach (var certificate in certificates.Skip(1))
            {
                collection.Add(X509CertificateLoader.LoadCertificate(certificate.CertificateDer.Span));
            }

            return collection.ExportPkcs12(Pkcs12ExportPbeParameters.Pbes2Aes256Sha256, checkedPassword);
        }
        finally
        {
            foreach (var certificate in collection)
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>
    /// Writes an export to <paramref name="path"/>, refusing to replace an existing file; a file holding a private
    /// key (even encrypted) is created with mode 0600, so only its owner can try passwords against it.
    /// </summary>
    public static void WriteFile(string path, ReadOnlySpan<byte> content, bool containsPrivateKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = containsPrivateKey
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }

        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(content);
        }
        catch (IOException ex) when (File.Exists(path))
        {
            throw new PkiException(PkiErrorCode.InvalidArgument, $"file '{path}' already exists: export does not overwrite files", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new PkiException(PkiErrorCode.FileUnreadable, $"cannot write '{path}': its directory does not exist", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PkiException(PkiErrorCode.FileUnreadable, $"cannot write '{path}': permission denied", ex);
        }
    }

    private static string CheckExportPassword(CertStoreFile keyFile, string? password)
    {
        ArgumentNullException.ThrowIfNull(keyFile);
        if (!keyFile.IsPrivateKey)
        {
            throw new PkiException(PkiErrorCode.WrongFileKind, $"'{keyFile.Name}' is a certificate file, not a key file");
        }

        if (string.IsNullOrEmpty(password))
        {
            throw new PkiException(PkiErrorCode.WrongPassword,
                $"exporting key file '{keyFile.Name}' needs its password (the one given to ssl genrsa or to the import)");
        }

        if (!keyFile.ExportPassword!.Matches(password))
        {
            throw new PkiException(PkiErrorCode.WrongPassword,
                $"wrong export password for key file '{keyFile.Name}': give the password it was generated or imported with");
        }

        return password;
    }

    private static void RequireCertificate(CertStoreFile file)
    {
        if (file.IsPrivateKey)
        {
            throw new PkiException(PkiErrorCode.WrongFileKind, $"'{file.Name}' is a key file, not a certificate file");
        }
    }
}
