using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// Turns the parameters of a resumable TLS 1.2 session into bytes and back, so that a session created by one
/// listener (or node) resumes on another. Only what an abbreviated handshake needs is kept (RFC 5246 7.4.1.2,
/// RFC 7627 5.3): protocol version, cipher suite, extended master secret flag and the master secret. Certificates
/// and server extensions are not carried (no client authentication yet; no extension we negotiate changes the
/// resumed connection).
/// <code>
/// offset 0   format (1)           = 1
///        1   version (2)          major, minor (3, 3 for TLS 1.2)
///        3   cipher suite (2)
///        5   flags (1)            bit 0: extended master secret
///        6   secret length (1)    48
///        7   master secret (48)
/// </code>
/// </summary>
public static class TlsSessionCodec
{
    private const byte Format = 1;
    private const int HeaderLength = 7;

    /// <summary>Encodes a session. The master secret is copied out; the session stays usable.</summary>
    public static byte[] Export(TlsCrypto crypto, SessionParameters parameters)
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

            var bytes = new byte[HeaderLength + secret.Length];
            bytes[0] = Format;
            bytes[1] = (byte)version.MajorVersion;
            bytes[2] = (byte)version.MinorVersion;
            bytes[3] = (byte)(parameters.CipherSuite >> 8);
            bytes[4] = (byte)parameters.CipherSuite;
            bytes[5] = parameters.IsExtendedMasterSecret ? (byte)1 : (byte)0;
            bytes[6] = (byte)secret.Length;
            secret.CopyTo(bytes, HeaderLength);
            return bytes;
        }
        finally
        {
            Array.Clear(secret);
        }
    }

    /// <summary>Decodes a session for <see cref="TlsUtilities.ImportSession"/>; null when the bytes are not ours.</summary>
    public static SessionParameters? Import(TlsCrypto crypto, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(crypto);
        if (bytes.Length < HeaderLength || bytes[0] != Format || bytes[6] == 0 ||
            bytes.Length != HeaderLength + bytes[6])
        {
            return null;
        }

        var version = ProtocolVersion.Get(bytes[1], bytes[2]);
        if (!version.IsTls || !ProtocolVersion.TLSv12.IsEqualOrEarlierVersionOf(version))
        {
            return null;
        }

        // CreateSecret keeps its own copy; the temporary one is cleared at once.
        byte[] secret = bytes[HeaderLength..].ToArray();
        try
        {
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
}
