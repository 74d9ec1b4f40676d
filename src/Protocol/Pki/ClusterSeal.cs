using System.Security.Cryptography;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// Seals secrets that travel between the nodes of a cluster (replicated TLS sessions, ticket keys) with a key every
/// node derives from the cluster's master key for one purpose: AES-256-GCM, <c>nonce (12) | ciphertext | tag (16)</c>,
/// the associated data binding each blob to what it describes. Remoting TLS protects the wire too; this keeps the
/// secrets sealed even on a cluster that runs remoting in clear, and makes a node with another master key unable to
/// read or inject them. Thread-safe.
/// </summary>
public sealed class ClusterSeal
{
    private const int NonceLength = 12;
    private const int TagLength = 16;
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
        var sealedBytes = new byte[NonceLength + plaintext.Length + TagLength];
        var nonce = sealedBytes.AsSpan(0, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagLength);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceLength, plaintext.Length), sealedBytes.AsSpan(^TagLength), associatedData);
        return sealedBytes;
    }

    /// <summary>The plaintext (the caller clears it), or null for a damaged or foreign blob.</summary>
    public byte[]? Open(ReadOnlySpan<byte> sealedBytes, ReadOnlySpan<byte> associatedData)
    {
        int length = sealedBytes.Length - NonceLength - TagLength;
        if (length <= 0) return null;
        var plaintext = new byte[length];
        try
        {
            using var aes = new AesGcm(_key, TagLength);
            aes.Decrypt(sealedBytes[..NonceLength], sealedBytes.Slice(NonceLength, length), sealedBytes[^TagLength..], plaintext, associatedData);
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            return null;
        }
    }
}
