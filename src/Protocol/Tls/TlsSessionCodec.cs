using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// Turns the parameters of a resumable TLS 1.2 session into bytes and back, so that a session created by one
/// listener (or node) resumes on another. Only what an abbreviated handshake needs is kept (RFC 5246 7.4.1.2,
/// RFC 7627 5.3): protocol version, cipher suite, extended master secret flag and the master secret. Certificates
/// and server extensions are not carried (no client authentication yet; no extension we negotiate changes the
/// resumed connection). A session of an ssl-server with client authentication (format 2) also carries the
/// client's certificate chain, so that the resumed connection gets the client-auth outcome of its full handshake,
/// checked again against the CRL and the clock of the moment it resumes.
/// <code>
/// offset 0   format (1)           = 1, or 2 with a client chain
///        1   version (2)          major, minor (3, 3 for TLS 1.2)
///        3   cipher suite (2)
///        5   flags (1)            bit 0: extended master secret
///        6   secret length (1)    48
///        7   master secret (48)
/// format 2 only, after the secret:
///            count (1)            certificates in the client chain (0: the client sent none)
///            per certificate:     length (2), DER
/// </code>
/// </summary>
public static class TlsSessionCodec
{
    private const byte Format = 1;
    private const byte FormatWithClientChain = 2;
    private const int HeaderLength = 7;

    /// <summary>Encodes a session. The master secret is copied out; the session stays usable.</summary>
    public static byte[] Export(TlsCrypto crypto, SessionParameters parameters) => Export(crypto, parameters, null);

    /// <summary>
    /// Encodes a session with the client's certificate chain (leaf first, DER; empty when the client sent none), or
    /// without one when <paramref name="clientChain"/> is null.
    /// </summary>
    public static byte[] Export(TlsCrypto crypto, SessionParameters parameters, IReadOnlyList<byte[]>? clientChain)
    {
        ArgumentNullException.ThrowIfNull(crypto);
        ArgumentNullException.ThrowIfNull(parameters);
        var version = parameters.NegotiatedVersion ?? throw new ArgumentException("session has no version");

        // AdoptSecret copies; Extract then consumes only the copy, leaving the connection's own secret alive.
        byte[] secret = crypto.AdoptSecret(parameters.MasterSecret).Extract();
        try
        {
            if (secret.Length is 0 or > 255)
            {
                throw new ArgumentException("unexpected master secret length " + secret.Length);
            }

            if (!CanCarry(clientChain))
            {
                throw new ArgumentException("client chain too long to store with the session", nameof(clientChain));
            }

            int chainLength = clientChain is null ? 0 : 1 + clientChain.Sum(c => 2 + c.Length);
            var bytes = new byte[HeaderLength + secret.Length + chainLength];
            bytes[0] = clientChain is null ? Format : FormatWithClientChain;
            bytes[1] = (byte)version.MajorVersion;
            bytes[2] = (byte)version.MinorVersion;
            bytes[3] = (byte)(parameters.CipherSuite >> 8);
            bytes[4] = (byte)parameters.CipherSuite;
            bytes[5] = parameters.IsExtendedMasterSecret ? (byte)1 : (byte)0;
            bytes[6] = (byte)secret.Length;
            secret.CopyTo(bytes, HeaderLength);
            if (clientChain is not null)
            {
                int at = HeaderLength + secret.Length;
                bytes[at++] = (byte)clientChain.Count;
                foreach (var der in clientChain)
                {
                    bytes[at++] = (byte)(der.Length >> 8);
                    bytes[at++] = (byte)der.Length;
                    der.CopyTo(bytes, at);
                    at += der.Length;
                }
            }

            return bytes;
        }
        finally
        {
            Array.Clear(secret);
        }
    }

    /// <summary>
    /// Whether <paramref name="clientChain"/> fits the format (at most 255 certificates of at most 65,535 bytes each);
    /// a session whose chain does not is simply not made resumable.
    /// </summary>
    public static bool CanCarry(IReadOnlyList<byte[]>? clientChain) =>
        clientChain is null || (clientChain.Count <= byte.MaxValue && clientChain.All(c => c.Length <= ushort.MaxValue));

    /// <summary>Decodes a session for <see cref="TlsUtilities.ImportSession"/>; null when the bytes are not ours.</summary>
    public static SessionParameters? Import(TlsCrypto crypto, ReadOnlySpan<byte> bytes) => Import(crypto, bytes, out _);

    /// <summary>
    /// Decodes a session and the client chain stored with it (null for a session stored without one); null when the
    /// bytes are not ours.
    /// </summary>
    public static SessionParameters? Import(TlsCrypto crypto, ReadOnlySpan<byte> bytes, out IReadOnlyList<byte[]>? clientChain)
    {
        ArgumentNullException.ThrowIfNull(crypto);
        clientChain = null;
        if (bytes.Length < HeaderLength || bytes[6] == 0 || bytes.Length < HeaderLength + bytes[6])
        {
            return null;
        }

        var tail = bytes[(HeaderLength + bytes[6])..];
        List<byte[]>? chain = null;
        if (bytes[0] == FormatWithClientChain)
        {
            chain = ReadChain(tail);
            if (chain is null)
            {
                return null;
            }
        }
        else if (bytes[0] != Format || !tail.IsEmpty)
        {
            return null;
        }

        var version = ProtocolVersion.Get(bytes[1], bytes[2]);
        if (!version.IsTls || !ProtocolVersion.TLSv12.IsEqualOrEarlierVersionOf(version))
        {
            return null;
        }

        // CreateSecret keeps its own copy; the temporary one is cleared at once.
        byte[] secret = bytes.Slice(HeaderLength, bytes[6]).ToArray();
        try
        {
            clientChain = chain;
            return new SessionParameters.Builder()
                .SetNegotiatedVersion(version)
                .SetCipherSuite((bytes[3] << 8) | bytes[4])
                .SetExtendedMasterSecret((bytes[5] & 1) != 0)
                .SetMasterSecret(crypto.CreateSecret(secret))
                .Build();
        }
        finally
        {
            Array.Clear(secret);
        }
    }

    private static List<byte[]>? ReadChain(ReadOnlySpan<byte> tail)
    {
        if (tail.IsEmpty)
        {
            return null;
        }

        int count = tail[0];
        var chain = new List<byte[]>(count);
        int at = 1;
        for (int i = 0; i < count; i++)
        {
            if (tail.Length < at + 2)
            {
                return null;
            }

            int length = (tail[at] << 8) | tail[at + 1];
            at += 2;
            if (length == 0 || tail.Length < at + length)
            {
                return null;
            }

            chain.Add(tail.Slice(at, length).ToArray());
            at += length;
        }

        return at == tail.Length ? chain : null;
    }
}
