using System.Security.Cryptography;
using System.Text;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// Seals private keys at rest with AES-256-GCM under a subkey of the <see cref="MasterKey"/>.
/// A sealed blob is: version byte (1), the master key's 4-byte id, a random 12-byte nonce, the ciphertext and the
/// 16-byte tag. The additional authenticated data binds the blob to its file name and kind, so a blob copied
/// under another name, or relabelled as another kind, does not open.
/// </summary>
/// <remarks>
/// Thread-safe: a fresh <see cref="AesGcm"/> is made per call, because one instance must not be used by two
/// threads at once and sealing is far too rare for the allocation to matter.
/// </remarks>
public sealed class KeyProtector : IDisposable
{
    /// <summary>The only blob format this build writes and reads.</summary>
    public const byte FormatVersion = 1;

    private const int KeyIdLength = 4;
    private const int NonceLength = 12;
    private const int TagLength = 16;
    private const int HeaderLength = 1 + KeyIdLength + NonceLength;

    private readonly byte[] _sealingKey;
    private readonly byte[] _keyId;
    private bool _disposed;

    /// <summary>Creates a protector; the master key may be disposed afterwards, only a derived subkey is kept.</summary>
    public KeyProtector(MasterKey masterKey)
    {
        ArgumentNullException.ThrowIfNull(masterKey);
        _sealingKey = masterKey.DeriveKey("sslcluster key-file sealing v1", 32);
        _keyId = Convert.FromHexString(masterKey.KeyId);
        MasterKeyId = masterKey.KeyId;
    }

    /// <summary>The id of the master key this protector seals under.</summary>
    public string MasterKeyId { get; }

    /// <summary>Encrypts <paramref name="plaintext"/> for the store file <paramref name="fileName"/> of kind <paramref name="kind"/>.</summary>
    public byte[] Seal(string fileName, CertStoreFileKind kind, ReadOnlySpan<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(fileName);
        var blob = new byte[HeaderLength + plaintext.Length + TagLength];
        blob[0] = FormatVersion;
        _keyId.CopyTo(blob, 1);
        var nonce = blob.AsSpan(1 + KeyIdLength, NonceLength);
        // A random nonce is safe here: at 2^-32 collision odds per 2^32 seals, a store would need billions of keys.
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_sealingKey, TagLength);
        aes.Encrypt(
            nonce,
            plaintext,
            blob.AsSpan(HeaderLength, plaintext.Length),
            blob.AsSpan(HeaderLength + plaintext.Length, TagLength),
            AssociatedData(blob.AsSpan(0, 1 + KeyIdLength), fileName, kind));
        return blob;
    }

    /// <summary>
    /// Decrypts a blob made by <see cref="Seal"/> for the same file name and kind. The caller owns the returned
    /// clear bytes and should wipe them with <see cref="CryptographicOperations.ZeroMemory"/> when done.
    /// </summary>
    public byte[] Open(string fileName, CertStoreFileKind kind, ReadOnlySpan<byte> sealedBlob)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(fileName);
        if (sealedBlob.Length < HeaderLength + TagLength)
        {
            throw new PkiException(PkiErrorCode.Corrupt,
                $"sealed key file '{fileName}' is corrupt: {sealedBlob.Length} bytes is shorter than the {HeaderLength + TagLength}-byte minimum");
        }

        if (sealedBlob[0] != FormatVersion)
        {
            throw new PkiException(PkiErrorCode.Corrupt,
                $"sealed key file '{fileName}' has format version {sealedBlob[0]}, which this build does not know");
        }

        var blobKeyId = sealedBlob.Slice(1, KeyIdLength);
        if (!blobKeyId.SequenceEqual(_keyId))
        {
            throw new PkiException(PkiErrorCode.MasterKeyMismatch,
                $"the master key does not match the one that sealed key file '{fileName}' "
                + $"(sealed under master key {Convert.ToHexStringLower(blobKeyId)}, this node has {MasterKeyId})");
        }

        var cipherLength = sealedBlob.Length - HeaderLength - TagLength;
        var plaintext = new byte[cipherLength];
        using var aes = new AesGcm(_sealingKey, TagLength);
        try
        {
            aes.Decrypt(
                sealedBlob.Slice(1 + KeyIdLength, NonceLength),
                sealedBlob.Slice(HeaderLength, cipherLength),
                sealedBlob.Slice(HeaderLength + cipherLength, TagLength),
                plaintext,
                AssociatedData(sealedBlob[..(1 + KeyIdLength)], fileName, kind));
        }
        catch (AuthenticationTagMismatchException ex)
        {
            // Same master key id, so the key is right: the bytes, the name or the kind are not what was sealed.
            throw new PkiException(PkiErrorCode.IntegrityFailure,
                $"key file '{fileName}' failed its integrity check: its sealed bytes were altered, or copied from "
                + "another file name or kind (the master key is the one that sealed it)",
                ex);
        }

        return plaintext;
    }

    /// <summary>
    /// Opens a key file's private key as an <see cref="RSA"/> or <see cref="ECDsa"/> object, after checking that
    /// the key matches the public key stored beside it (a store whose entries were mixed up fails here).
    /// </summary>
    public AsymmetricAlgorithm OpenPrivateKey(CertStoreFile keyFile)
    {
        ArgumentNullException.ThrowIfNull(keyFile);
        if (!keyFile.IsPrivateKey)
        {
            throw new PkiException(PkiErrorCode.WrongFileKind, $"'{keyFile.Name}' is a certificate file, not a key file");
        }

        var pkcs8 = Open(keyFile.Name, keyFile.Kind, keyFile.SealedPrivateKey.Span);
        AsymmetricAlgorithm key = keyFile.Kind == CertStoreFileKind.RsaPrivateKey ? RSA.Create() : ECDsa.Create();
        try
        {
            key.ImportPkcs8PrivateKey(pkcs8, out _);
            if (!key.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(keyFile.PublicKeyInfo.Span))
            {
                throw new PkiException(PkiErrorCode.Corrupt,
                    $"key file '{keyFile.Name}' is corrupt: its private key does not match the public key stored with it");
            }

            return key;
        }
        catch (Exception ex) when (ex is CryptographicException or PkiException)
        {
            key.Dispose();
            if (ex is PkiException)
            {
                throw;
            }

            throw new PkiException(PkiErrorCode.Corrupt, $"key file '{keyFile.Name}' is corrupt: its private key cannot be read", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>Seals a PKCS#8 private key into a new key file.</summary>
    internal CertStoreFile SealKeyFile(string name, DecodedPrivateKey key, PasswordVerifier exportPassword, DateTimeOffset createdAt)
    {
        CertStoreFile.ValidateName(name);
        var sealedKey = Seal(name, key.Kind, key.Pkcs8);
        return CertStoreFile.FromSealedKey(name, key.Kind, sealedKey, key.SubjectPublicKeyInfo, exportPassword, createdAt);
    }

    /// <summary>Wipes the derived sealing key.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            CryptographicOperations.ZeroMemory(_sealingKey);
            _disposed = true;
        }
    }

    private static byte[] AssociatedData(ReadOnlySpan<byte> header, string fileName, CertStoreFileKind kind)
    {
        // A fixed label, the blob header, then kind and name separated by NUL (which a name cannot contain).
        var text = Encoding.UTF8.GetBytes($"sslcluster key file\0{KindLabel(kind)}\0{fileName}");
        var aad = new byte[header.Length + text.Length];
        header.CopyTo(aad);
        text.CopyTo(aad, header.Length);
        return aad;
    }

    // Fixed labels rather than enum names, so renaming an enum member never makes sealed blobs unreadable.
    private static string KindLabel(CertStoreFileKind kind) => kind switch
    {
        CertStoreFileKind.RsaPrivateKey => "rsa-private-key",
        CertStoreFileKind.EcPrivateKey => "ec-private-key",
        _ => "certificate",
    };
}
