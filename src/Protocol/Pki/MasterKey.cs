using System.Security.Cryptography;
using System.Text;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// The 32-byte secret under which every private key of the store is sealed at rest (see <see cref="KeyProtector"/>).
/// It comes from a key file created on first start (<see cref="LoadOrCreate"/>) or from an environment value
/// (<see cref="FromBase64"/>), so that the sealed store can sit in a database or event journal that other people
/// can read. Its text form is standard base64 of the 32 bytes.
/// </summary>
public sealed class MasterKey : IDisposable
{
    /// <summary>Length of a master key, in bytes (an AES-256 key).</summary>
    public const int Length = 32;

    private readonly byte[] _bytes;
    private bool _disposed;

    private MasterKey(byte[] bytes)
    {
        _bytes = bytes;
        KeyId = ComputeKeyId(bytes);
    }

    /// <summary>
    /// A short public tag of this key (8 hex digits, derived one-way from it). Sealed blobs carry it, so a
    /// blob opened under another master key is reported as such instead of as tampering.
    /// </summary>
    public string KeyId { get; }

    /// <summary>A fresh random master key.</summary>
    public static MasterKey CreateRandom() => new(RandomNumberGenerator.GetBytes(Length));

    /// <summary>A master key from its 32 raw bytes.</summary>
    public static MasterKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new PkiException(PkiErrorCode.MasterKeyInvalid,
                $"a master key is exactly {Length} bytes, not {bytes.Length}");
        }

        return new MasterKey(bytes.ToArray());
    }

    /// <summary>A master key from its base64 text, as given in an environment variable.</summary>
    public static MasterKey FromBase64(string? value) => Decode(value, "the master key value");

    /// <summary>
    /// Reads the master key file at <paramref name="path"/>, or creates it with a fresh random key and mode 0600
    /// (owner read/write only) when it does not exist. Creation uses create-new semantics, so two processes
    /// starting together end up with the same key: the loser of the race reads the winner's file.
    /// </summary>
    public static MasterKey LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            var created = TryCreate(path);
            if (created is not null)
            {
                return created;
            }
        }

        return Load(path);
    }

    /// <summary>Reads an existing master key file.</summary>
    public static MasterKey Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.ASCII);
        }
        catch (FileNotFoundException ex)
        {
            throw new PkiException(PkiErrorCode.MasterKeyInvalid, $"master key file '{path}' does not exist", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new PkiException(PkiErrorCode.MasterKeyInvalid, $"master key file '{path}' does not exist", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PkiException(PkiErrorCode.MasterKeyInvalid,
                $"master key file '{path}' cannot be read: permission denied (the node must run as the file's owner)", ex);
        }
        catch (IOException ex)
        {
            throw new PkiException(PkiErrorCode.MasterKeyInvalid, $"master key file '{path}' cannot be read: {ex.Message}", ex);
        }

        return Decode(text, $"master key file '{path}'");
    }

    /// <summary>The key as base64 text (what <see cref="FromBase64"/> and the key file hold).</summary>
    public string ToBase64()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Convert.ToBase64String(_bytes);
    }

    /// <summary>Derives a purpose-bound subkey, so the raw master key is never used directly as a cipher key.</summary>
    internal byte[] DeriveKey(string purpose, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return HKDF.DeriveKey(HashAlgorithmName.SHA256, _bytes, length, salt: [], info: Encoding.ASCII.GetBytes(purpose));
    }

    /// <summary>Wipes the key bytes from memory.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            CryptographicOperations.ZeroMemory(_bytes);
            _disposed = true;
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"master key {KeyId}";

    internal static string ComputeKeyId(ReadOnlySpan<byte> key)
    {
        var id = HKDF.DeriveKey(HashAlgorithmName.SHA256, key.ToArray(), 4, salt: [], info: "sslcluster master key id"u8.ToArray());
        return Convert.ToHexStringLower(id);
    }

    private static MasterKey Decode(string? text, string what)
    {
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            throw new PkiException(PkiErrorCode.MasterKeyInvalid,
                $"{what} is empty: it must hold {Length} random bytes in base64 (44 characters)");
        }

        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(trimmed);
        }
        catch (FormatException ex)
        {
            throw new PkiException(PkiErrorCode.MasterKeyInvalid,
                $"{what} is not base64 text: it must hold {Length} random bytes in base64 (44 characters)", ex);
        }

        if (bytes.Length != Length)
        {
            CryptographicOperations.ZeroMemory(bytes);
            throw new PkiException(PkiErrorCode.MasterKeyInvalid,
                $"{what} decodes to {bytes.Length} bytes: a master key is exactly {Length} bytes (44 base64 characters)");
        }

        return new MasterKey(bytes);
    }

    private static MasterKey? TryCreate(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
        {
            // Only the owner needs to enter the directory that holds the key.
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var key = CreateRandom();
        // Write a private temporary file, then link it into place without replacing: a crash mid-write never
        // leaves a half-written key under the real name, and a concurrent creator's key is never overwritten.
        var temporary = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp";
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            // Set at creation, not by a later chmod, so there is no moment when the key is readable by others.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(key.ToBase64() + "\n"));
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: false);
            return key;
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first: use theirs.
            key.Dispose();
            return null;
        }
        catch (UnauthorizedAccessException ex)
        {
            key.Dispose();
            throw new PkiException(PkiErrorCode.MasterKeyInvalid,
                $"master key file '{path}' cannot be created: permission denied", ex);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
