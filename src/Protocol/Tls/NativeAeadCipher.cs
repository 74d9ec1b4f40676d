using System.Security.Cryptography;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// One direction (encrypt or decrypt) of an AEAD record cipher, done by System.Security.Cryptography (OpenSSL).
/// BouncyCastle's <see cref="TlsAeadCipher"/> owns the record framing, nonce construction and sequence numbers;
/// this class only seals and opens. The native key object is created when BouncyCastle sets a key (once per
/// connection and direction for TLS 1.2; per epoch for TLS 1.3: handshake keys, application keys, key updates),
/// so a record costs no allocation here. The nonce and additional data arrays come from
/// <see cref="TlsAeadCipher"/>, which allocates them per record itself; we keep references, never copies.
/// </summary>
internal abstract class NativeAeadCipher : TlsAeadCipherImpl
{
    internal const int TagSize = 16;

    private readonly bool _encrypting;
    private byte[]? _nonce;
    private byte[]? _initAdditionalData;

    protected NativeAeadCipher(bool encrypting) => _encrypting = encrypting;

    public void SetKey(byte[] key, int keyOff, int keyLen) => SetKey(key.AsSpan(keyOff, keyLen));

    public void SetKey(ReadOnlySpan<byte> key)
    {
        // The previous epoch's key object is done with: TLS 1.3 never goes back to an older key.
        ReplaceKey(key);
    }

    public void Init(byte[] nonce, int macSize, byte[] additionalData)
    {
        if (macSize != TagSize)
        {
            // The suites we route here (AES-GCM, ChaCha20-Poly1305) all use 16-byte tags; anything else is a bug.
            throw new TlsFatalAlert(AlertDescription.internal_error, "unexpected AEAD tag size " + macSize);
        }

        _nonce = nonce;
        _initAdditionalData = additionalData;
    }

    public int GetOutputSize(int inputLength) =>
        _encrypting ? inputLength + TagSize : Math.Max(0, inputLength - TagSize);

    public int DoFinal(byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset) =>
        DoFinal(_initAdditionalData, input, inputOffset, inputLength, output, outputOffset);

    public int DoFinal(byte[]? additionalData, byte[] input, int inputOffset, int inputLength, byte[] output,
        int outputOffset)
    {
        byte[] nonce = _nonce ?? throw new TlsFatalAlert(AlertDescription.internal_error, "AEAD used before Init");
        ReadOnlySpan<byte> aad = additionalData ?? ReadOnlySpan<byte>.Empty;

        // TlsAeadCipher works in place (input and output are the same range). A partial overlap would be refused
        // by the native API, so that case (never seen from BouncyCastle 2.7) gets a private copy of the input.
        byte[]? copy = null;
        ReadOnlySpan<byte> source = input.AsSpan(inputOffset, inputLength);
        if (ReferenceEquals(input, output) && inputOffset != outputOffset &&
            source.Overlaps(output.AsSpan(outputOffset, GetOutputSize(inputLength))))
        {
            copy = source.ToArray();
            source = copy;
        }

        if (_encrypting)
        {
            Seal(nonce, source, output.AsSpan(outputOffset, inputLength),
                output.AsSpan(outputOffset + inputLength, TagSize), aad);
            return inputLength + TagSize;
        }

        if (inputLength < TagSize)
        {
            throw new TlsFatalAlert(AlertDescription.bad_record_mac);
        }

        int plainLength = inputLength - TagSize;
        try
        {
            Open(nonce, source[..plainLength], source.Slice(plainLength, TagSize),
                output.AsSpan(outputOffset, plainLength), aad);
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new TlsFatalAlert(AlertDescription.bad_record_mac, e);
        }

        return plainLength;
    }

    public void Reset()
    {
        // Nothing to reset: every record is a complete one-shot operation.
    }

    protected abstract void ReplaceKey(ReadOnlySpan<byte> key);

    protected abstract void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext,
        Span<byte> tag, ReadOnlySpan<byte> aad);

    protected abstract void Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag,
        Span<byte> plaintext, ReadOnlySpan<byte> aad);
}

/// <summary>AES-GCM (128 or 256-bit key) through <see cref="AesGcm"/>.</summary>
internal sealed class NativeAesGcmCipher(bool encrypting) : NativeAeadCipher(encrypting)
{
    private AesGcm? _aes;

    protected override void ReplaceKey(ReadOnlySpan<byte> key)
    {
        // The key object holds a native handle; releasing the old one now beats waiting for the finalizer.
        _aes?.Dispose();
        _aes = new AesGcm(key, TagSize);
    }

    protected override void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext,
        Span<byte> tag, ReadOnlySpan<byte> aad) =>
        Key.Encrypt(nonce, plaintext, ciphertext, tag, aad);

    protected override void Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag,
        Span<byte> plaintext, ReadOnlySpan<byte> aad) =>
        Key.Decrypt(nonce, ciphertext, tag, plaintext, aad);

    private AesGcm Key => _aes ?? throw new TlsFatalAlert(AlertDescription.internal_error, "AES-GCM key not set");
}

/// <summary>ChaCha20-Poly1305 (RFC 8439) through <see cref="ChaCha20Poly1305"/>.</summary>
internal sealed class NativeChaCha20Poly1305Cipher(bool encrypting) : NativeAeadCipher(encrypting)
{
    private ChaCha20Poly1305? _chacha;

    protected override void ReplaceKey(ReadOnlySpan<byte> key)
    {
        _chacha?.Dispose();
        _chacha = new ChaCha20Poly1305(key);
    }

    protected override void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext,
        Span<byte> tag, ReadOnlySpan<byte> aad) =>
        Key.Encrypt(nonce, plaintext, ciphertext, tag, aad);

    protected override void Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag,
        Span<byte> plaintext, ReadOnlySpan<byte> aad) =>
        Key.Decrypt(nonce, ciphertext, tag, plaintext, aad);

    private ChaCha20Poly1305 Key =>
        _chacha ?? throw new TlsFatalAlert(AlertDescription.internal_error, "ChaCha20-Poly1305 key not set");
}
