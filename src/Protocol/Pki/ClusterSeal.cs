using System.Security.Cryptography;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// Seals secrets that travel between the nodes of a cluster (replicated TLS sessions, ticket keys) under a key every
/// node derives from the cluster's master key for one purpose. Each blob has its own AES-256-GCM key, derived with
/// HKDF from that purpose key and a random 16-byte salt carried in the blob, so no key ever approaches GCM's limit on
/// random nonces however many sessions the cluster seals: <c>salt (16) | nonce (12) | ciphertext | tag (16)</c>, the
/// associated data binding each blob to what it describes. This makes a node with another master key unable to read
/// or inject them; it is not forward secret (whoever records the traffic and later learns the master key can open
/// it), which is why the cluster shares these secrets only over remoting TLS (ECDHE) unless told otherwise.
/// Thread-safe.
/// </summary>
public sealed class ClusterSeal
{
    private const int SaltLength = 16;
    private const int NonceLength = 12;
    private const int TagLength = 16;
    private const int Overhead = SaltLength + NonceLength + TagLength;
    private readonly byte[] _key;

    /// <param name="purpose">Names the use, so that keys for different uses differ.</param>
    public ClusterSeal(MasterKey masterKey, string purpose)
    {
        ArgumentNullException.ThrowIfNull(masterKey);
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        _key = masterKey.DeriveKey("sslcluster cluster seal: " + purpose, 32);
    }

    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var sealedBytes = new byte[Overhead + plaintext.Length];
        var salt = sealedBytes.AsSpan(0, SaltLength);
        var nonce = sealedBytes.AsSpan(SaltLength, NonceLength);
        RandomNumberGenerator.Fill(salt);
        RandomNumberGenerator.Fill(nonce);
        var key = BlobKey(salt);
        try
        {
            using var aes = new AesGcm(key, TagLength);
            aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(SaltLength + NonceLength, plaintext.Length), sealedBytes.AsSpan(^TagLength), associatedData);
            return sealedBytes;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>The plaintext (the caller clears it), or null for a damaged or foreign blob.</summary>
    public byte[]? Open(ReadOnlySpan<byte> sealedBytes, ReadOnlySpan<byte> associatedData)
    {
        int length = sealedBytes.Length - Overhead;
        if (length <= 0) return null;
        var plaintext = new byte[length];
        var key = BlobKey(sealedBytes[..SaltLength]);
        try
        {
            using var aes = new AesGcm(key, TagLength);
            aes.Decrypt(sealedBytes.Slice(SaltLength, NonceLength), sealedBytes.Slice(SaltLength + NonceLength, length), sealedBytes[^TagLength..],
                plaintext, associatedData);
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private byte[] BlobKey(ReadOnlySpan<byte> salt)
    {
        var key = new byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _key, key, salt, "sslcluster cluster seal blob"u8);
        return key;
    }
}
