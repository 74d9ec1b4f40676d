using System.Buffers;
using System.Buffers.Binary;

namespace SslCluster.Protocol.Tls;

/// <summary>Outcome of <see cref="ClientHelloParser.TryParse"/>.</summary>
public enum ClientHelloParseStatus
{
    /// <summary>The bytes so far are a valid beginning; read more and call again.</summary>
    Incomplete,

    /// <summary>Not a TLS ClientHello, or a malformed one: the connection can be refused.</summary>
    Invalid,

    /// <summary>Well-formed but not something we handle (SSLv2-format hello, hello larger than the limit).</summary>
    Unsupported,

    /// <summary>A complete ClientHello was parsed.</summary>
    Ok,
}

/// <summary>The fields of a ClientHello that routing decisions need. Immutable.</summary>
public sealed class ClientHelloInfo
{
    internal ClientHelloInfo(int legacyVersion, IReadOnlyList<int> supportedVersions, byte[] sessionId,
        string? serverName, IReadOnlyList<int> cipherSuites, IReadOnlyList<string> applicationProtocols,
        int bytesConsumed)
    {
        LegacyVersion = legacyVersion;
        SupportedVersions = supportedVersions;
        SessionId = sessionId;
        ServerName = serverName;
        CipherSuites = cipherSuites;
        ApplicationProtocols = applicationProtocols;
        BytesConsumed = bytesConsumed;
    }

    /// <summary>ClientHello.legacy_version (client_version in TLS 1.2), for example 0x0303.</summary>
    public int LegacyVersion { get; }

    /// <summary>The supported_versions extension (RFC 8446 4.2.1), in client order; empty when absent.</summary>
    public IReadOnlyList<int> SupportedVersions { get; }

    /// <summary>legacy_session_id: empty, or the TLS 1.2 session the client wants to resume (up to 32 bytes).</summary>
    public ReadOnlyMemory<byte> SessionId { get; }

    /// <summary>The SNI host name, lower case without a trailing dot; null when absent.</summary>
    public string? ServerName { get; }

    /// <summary>Offered cipher suites in client order (SCSVs included).</summary>
    public IReadOnlyList<int> CipherSuites { get; }

    /// <summary>ALPN protocol names in client order; empty when absent.</summary>
    public IReadOnlyList<string> ApplicationProtocols { get; }

    /// <summary>How many bytes of the input the records carrying the ClientHello take.</summary>
    public int BytesConsumed { get; }

    /// <summary>The highest version offered: from supported_versions when present, else legacy_version.</summary>
    public int HighestVersion => SupportedVersions.Count == 0
        ? LegacyVersion
        : SupportedVersions.Where(v => v >> 8 == 3).DefaultIfEmpty(LegacyVersion).Max(); // skips GREASE (RFC 8701)
}

/// <summary>
/// Reads a ClientHello from the first bytes of a connection without consuming them, so a dispatcher can route on
/// SNI or session ID before any TLS engine sees the bytes. Never throws on input; allocation only for the result
/// (and a copy when the hello spans several records). The layout quoted beside each offset is from RFC 8446 and
/// RFC 5246 (TLS 1.2 differs only in allowing the extensions block to be absent).
/// </summary>
public static class ClientHelloParser
{
    /// <summary>Largest ClientHello accepted (post-quantum key shares make hellos of a few KiB; 64 KiB is plenty).</summary>
    public const int MaxHelloLength = 64 * 1024;

    // struct {
    //     ContentType type;                       /* 1 byte: handshake(22) */
    //     ProtocolVersion legacy_record_version;  /* 2 bytes: 0x0301 or 0x0303 */
    //     uint16 length;                          /* 2 bytes, <= 2^14 */
    //     opaque fragment[TLSPlaintext.length];
    // } TLSPlaintext;                                                  RFC 8446 5.1
    private const int RecordHeaderLength = 5;
    private const byte ContentTypeHandshake = 22;
    private const int MaxFragmentLength = 1 << 14;

    // struct {
    //     HandshakeType msg_type;    /* 1 byte: client_hello(1) */
    //     uint24 length;             /* 3 bytes */
    //     ...
    // } Handshake;                                                     RFC 8446 4
    private const int HandshakeHeaderLength = 4;
    private const byte HandshakeTypeClientHello = 1;

    private const int ExtensionServerName = 0;
    private const int ExtensionAlpn = 16;
    private const int ExtensionSupportedVersions = 43;

    /// <summary>Parses the ClientHello at the start of <paramref name="data"/>.</summary>
    public static ClientHelloParseStatus TryParse(ReadOnlySpan<byte> data, out ClientHelloInfo? hello)
    {
        hello = null;
        if (data.IsEmpty)
        {
            return ClientHelloParseStatus.Incomplete;
        }

        if (data[0] != ContentTypeHandshake)
        {
            // An SSL 2.0 CLIENT-HELLO starts with a 2-byte length whose top bit is set (RFC 6101 E.2).
            return (data[0] & 0x80) != 0 ? ClientHelloParseStatus.Unsupported : ClientHelloParseStatus.Invalid;
        }

        // Fast path: the first record holds the whole message (every client we know). Otherwise the message is
        // assembled from consecutive handshake records (RFC 8446 5.1 allows any fragmentation).
        ArrayBufferWriter<byte>? assembled = null;
        ReadOnlySpan<byte> message;
        int messageLength = -1;
        int offset = 0;
        while (true)
        {
            var status = ReadRecordHeader(data[offset..], out int fragmentLength);
            if (status != ClientHelloParseStatus.Ok)
            {
                return status;
            }

            int available = Math.Min(fragmentLength, data.Length - offset - RecordHeaderLength);
            var fragment = data.Slice(offset + RecordHeaderLength, available);
            if (offset == 0 && fragment.Length >= 1 && fragment[0] != HandshakeTypeClientHello)
            {
                return ClientHelloParseStatus.Invalid;
            }

            if (offset == 0 && fragment.Length >= HandshakeHeaderLength)
            {
                messageLength = ReadUInt24(fragment[1..]);
                if (messageLength > MaxHelloLength)
                {
                    return ClientHelloParseStatus.Unsupported;
                }

                if (fragmentLength - HandshakeHeaderLength >= messageLength)
                {
                    // Another message after the hello in the same record: no client sends that before our reply.
                    if (fragmentLength - HandshakeHeaderLength > messageLength)
                    {
                        return ClientHelloParseStatus.Invalid;
                    }

                    if (available < fragmentLength)
                    {
                        return ClientHelloParseStatus.Incomplete;
                    }

                    message = fragment.Slice(HandshakeHeaderLength, messageLength);
                    offset += RecordHeaderLength + fragmentLength;
                    break;
                }
            }

            if (available < fragmentLength)
            {
                return ClientHelloParseStatus.Incomplete;
            }

            assembled ??= new ArrayBufferWriter<byte>(HandshakeHeaderLength + Math.Max(messageLength, 0));
            assembled.Write(fragment);
            offset += RecordHeaderLength + fragmentLength;
            if (messageLength < 0 && assembled.WrittenCount >= HandshakeHeaderLength)
            {
                messageLength = ReadUInt24(assembled.WrittenSpan[1..]);
                if (messageLength > MaxHelloLength)
                {
                    return ClientHelloParseStatus.Unsupported;
                }
            }

            if (messageLength >= 0)
            {
                int total = HandshakeHeaderLength + messageLength;
                if (assembled.WrittenCount > total)
                {
                    return ClientHelloParseStatus.Invalid;
                }

                if (assembled.WrittenCount == total)
                {
                    message = assembled.WrittenSpan[HandshakeHeaderLength..];
                    break;
                }
            }

            if (offset >= data.Length)
            {
                return ClientHelloParseStatus.Incomplete;
            }

            // RFC 8446 5.1: handshake messages MUST NOT be interleaved with other record types (checked by
            // ReadRecordHeader on the next turn).
        }

        return ParseBody(message, offset, out hello);
    }

    private static ClientHelloParseStatus ReadRecordHeader(ReadOnlySpan<byte> data, out int fragmentLength)
    {
        fragmentLength = 0;
        if (data.Length >= 1 && data[0] != ContentTypeHandshake)
        {
            return ClientHelloParseStatus.Invalid;
        }

        // legacy_record_version: 0x0300-0x03FF. Anything else is not TLS.
        if (data.Length >= 2 && data[1] != 3)
        {
            return ClientHelloParseStatus.Invalid;
        }

        if (data.Length < RecordHeaderLength)
        {
            return ClientHelloParseStatus.Incomplete;
        }

        fragmentLength = BinaryPrimitives.ReadUInt16BigEndian(data[3..]);

        // RFC 8446 5.1: "Zero-length fragments of Handshake types MUST NOT be sent"; length MUST NOT exceed 2^14.
        if (fragmentLength == 0 || fragmentLength > MaxFragmentLength)
        {
            return ClientHelloParseStatus.Invalid;
        }

        return ClientHelloParseStatus.Ok;
    }

    private static ClientHelloParseStatus ParseBody(ReadOnlySpan<byte> body, int bytesConsumed,
        out ClientHelloInfo? hello)
    {
        hello = null;
        var reader = new Reader(body);

        // struct {
        //     ProtocolVersion legacy_version = 0x0303;    /* TLS v1.2 */           2 bytes
        //     Random random;                                                      32 bytes
        //     opaque legacy_session_id<0..32>;                                    1-byte length
        //     CipherSuite cipher_suites<2..2^16-2>;                               2-byte length
        //     opaque legacy_compression_methods<1..2^8-1>;                        1-byte length
        //     Extension extensions<8..2^16-1>;                                    2-byte length
        // } ClientHello;                                                          RFC 8446 4.1.2
        // RFC 5246 7.4.1.2 (TLS 1.2): the extensions block may be absent altogether.
        if (!reader.TryReadUInt16(out int legacyVersion) || !reader.TrySkip(32))
        {
            return ClientHelloParseStatus.Invalid;
        }

        if (legacyVersion >> 8 != 3)
        {
            return ClientHelloParseStatus.Invalid;
        }

        if (!reader.TryReadVector8(out var sessionId) || sessionId.Length > 32)
        {
            return ClientHelloParseStatus.Invalid;
        }

        if (!reader.TryReadVector16(out var suiteBytes) || suiteBytes.Length < 2 || suiteBytes.Length % 2 != 0)
        {
            return ClientHelloParseStatus.Invalid;
        }

        var suites = new int[suiteBytes.Length / 2];
        for (int i = 0; i < suites.Length; i++)
        {
            suites[i] = BinaryPrimitives.ReadUInt16BigEndian(suiteBytes[(2 * i)..]);
        }

        if (!reader.TryReadVector8(out var compression) || compression.IsEmpty)
        {
            return ClientHelloParseStatus.Invalid;
        }

        string? serverName = null;
        var versions = new List<int>();
        var protocols = new List<string>();
        if (!reader.IsEmpty)
        {
            if (!reader.TryReadVector16(out var extensions) || !reader.IsEmpty)
            {
                return ClientHelloParseStatus.Invalid;
            }

            // struct {
            //     ExtensionType extension_type;             2 bytes
            //     opaque extension_data<0..2^16-1>;         2-byte length
            // } Extension;                                  RFC 8446 4.2
            var seen = new HashSet<int>();
            var extReader = new Reader(extensions);
            while (!extReader.IsEmpty)
            {
                if (!extReader.TryReadUInt16(out int type) || !extReader.TryReadVector16(out var extData) ||
                    !seen.Add(type))
                {
                    // RFC 8446 4.2: "There MUST NOT be more than one extension of the same type".
                    return ClientHelloParseStatus.Invalid;
                }

                bool ok = type switch
                {
                    ExtensionServerName => TryParseServerName(extData, out serverName),
                    ExtensionAlpn => TryParseAlpn(extData, protocols),
                    ExtensionSupportedVersions => TryParseSupportedVersions(extData, versions),
                    _ => true,
                };
                if (!ok)
                {
                    return ClientHelloParseStatus.Invalid;
                }
            }
        }

        hello = new ClientHelloInfo(legacyVersion, versions, sessionId.ToArray(), serverName, suites, protocols,
            bytesConsumed);
        return ClientHelloParseStatus.Ok;
    }

    // struct {
    //     NameType name_type;                       1 byte: host_name(0)
    //     select (name_type) {
    //         case host_name: HostName;             opaque HostName<1..2^16-1>
    //     } name;
    // } ServerName;
    // struct {
    //     ServerName server_name_list<1..2^16-1>
    // } ServerNameList;                             RFC 6066 3
    private static bool TryParseServerName(ReadOnlySpan<byte> data, out string? serverName)
    {
        serverName = null;
        var reader = new Reader(data);
        if (!reader.TryReadVector16(out var list) || !reader.IsEmpty || list.IsEmpty)
        {
            return false;
        }

        var listReader = new Reader(list);
        while (!listReader.IsEmpty)
        {
            if (!listReader.TryReadUInt8(out int nameType) || !listReader.TryReadVector16(out var name))
            {
                return false;
            }

            // RFC 6066 3: "The ServerNameList MUST NOT contain more than one name of the same name_type."
            if (nameType == 0)
            {
                if (serverName is not null || name.IsEmpty)
                {
                    return false;
                }

                var chars = new char[name.Length];
                for (int i = 0; i < name.Length; i++)
                {
                    byte b = name[i];
                    if (b <= 0x20 || b >= 0x7F)
                    {
                        // HostName is ASCII without spaces or controls (RFC 6066 3, RFC 5890 A-labels).
                        return false;
                    }

                    chars[i] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b + 32 : b);
                }

                serverName = new string(chars).TrimEnd('.');
                if (serverName.Length == 0)
                {
                    return false;
                }
            }
        }

        return true;
    }

    // opaque ProtocolName<1..2^8-1>;
    // struct {
    //     ProtocolName protocol_name_list<2..2^16-1>
    // } ProtocolNameList;                           RFC 7301 3.1
    private static bool TryParseAlpn(ReadOnlySpan<byte> data, List<string> protocols)
    {
        var reader = new Reader(data);
        if (!reader.TryReadVector16(out var list) || !reader.IsEmpty || list.Length < 2)
        {
            return false;
        }

        var listReader = new Reader(list);
        while (!listReader.IsEmpty)
        {
            if (!listReader.TryReadVector8(out var name) || name.IsEmpty)
            {
                return false;
            }

            protocols.Add(System.Text.Encoding.ASCII.GetString(name));
        }

        return true;
    }

    // struct {
    //     select (Handshake.msg_type) {
    //         case client_hello:
    //              ProtocolVersion versions<2..254>;    1-byte length, 2 bytes per version
    //         ...
    //     };
    // } SupportedVersions;                          RFC 8446 4.2.1
    private static bool TryParseSupportedVersions(ReadOnlySpan<byte> data, List<int> versions)
    {
        var reader = new Reader(data);
        if (!reader.TryReadVector8(out var list) || !reader.IsEmpty || list.Length < 2 || list.Length % 2 != 0)
        {
            return false;
        }

        for (int i = 0; i < list.Length; i += 2)
        {
            versions.Add(BinaryPrimitives.ReadUInt16BigEndian(list[i..]));
        }

        return true;
    }

    private static int ReadUInt24(ReadOnlySpan<byte> data) => (data[0] << 16) | (data[1] << 8) | data[2];

    /// <summary>A bounds-checked cursor: every read either succeeds whole or reports failure.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool IsEmpty => _rest.IsEmpty;

        public bool TryReadUInt8(out int value)
        {
            value = 0;
            if (_rest.Length < 1)
            {
                return false;
            }

            value = _rest[0];
            _rest = _rest[1..];
            return true;
        }

        public bool TryReadUInt16(out int value)
        {
            value = 0;
            if (_rest.Length < 2)
            {
                return false;
            }

            value = BinaryPrimitives.ReadUInt16BigEndian(_rest);
            _rest = _rest[2..];
            return true;
        }

        public bool TrySkip(int count)
        {
            if (_rest.Length < count)
            {
                return false;
            }

            _rest = _rest[count..];
            return true;
        }

        public bool TryReadVector8(out ReadOnlySpan<byte> value)
        {
            value = default;
            return TryReadUInt8(out int length) && TryTake(length, out value);
        }

        public bool TryReadVector16(out ReadOnlySpan<byte> value)
        {
            value = default;
            return TryReadUInt16(out int length) && TryTake(length, out value);
        }

        private bool TryTake(int length, out ReadOnlySpan<byte> value)
        {
            value = default;
            if (_rest.Length < length)
            {
                return false;
            }

            value = _rest[..length];
            _rest = _rest[length..];
            return true;
        }
    }
}
