using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>
/// The PROXY protocol version 2 header (haproxy.org proxy-protocol.txt, section 2.2) a terminated connection sends its
/// clear-text server first (<c>ssl-server N send-proxy-v2</c>): command PROXY, TCP over IPv4 or IPv6 with the client's
/// and the VIP's addresses (no addresses, AF_UNSPEC, when the two differ in family or the client is unknown), then the
/// TLVs PP2_TYPE_AUTHORITY (the SNI), PP2_TYPE_ALPN, and PP2_TYPE_SSL with the client flags, the verify result and the
/// sub-TLVs SSL_VERSION, SSL_CIPHER (IANA name) and SSL_CN (the client certificate's common name, verified ones only).
/// </summary>
public static class ProxyProtocolV2
{
    /// <summary>The 12-byte signature every v2 header starts with.</summary>
    public static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public const byte TypeAlpn = 0x01;
    public const byte TypeAuthority = 0x02;
    public const byte TypeSsl = 0x20;
    public const byte SubtypeSslVersion = 0x21;
    public const byte SubtypeSslCn = 0x22;
    public const byte SubtypeSslCipher = 0x23;

    /// <summary>PP2_CLIENT_SSL: the client connected over TLS.</summary>
    public const byte ClientSsl = 0x01;

    /// <summary>PP2_CLIENT_CERT_CONN: the client presented a certificate on this connection.</summary>
    public const byte ClientCertConnection = 0x02;

    /// <summary>PP2_CLIENT_CERT_SESS: the client presented a certificate in the session it resumed.</summary>
    public const byte ClientCertSession = 0x04;

    /// <summary>The header for a connection from <paramref name="client"/> to <paramref name="vip"/> with what its handshake agreed.</summary>
    public static byte[] Header(IPEndPoint? client, IPEndPoint vip, HandshakeInfo info)
    {
        ArgumentNullException.ThrowIfNull(vip);
        ArgumentNullException.ThrowIfNull(info);
        var body = new List<byte>(64);
        var source = client is null ? null : Unmapped(client);
        var destination = Unmapped(vip);
        byte family = 0x00;
        if (source is not null && source.AddressFamily == destination.AddressFamily)
        {
            family = source.AddressFamily == AddressFamily.InterNetwork ? (byte)0x11 : (byte)0x21;
            body.AddRange(source.Address.GetAddressBytes());
            body.AddRange(destination.Address.GetAddressBytes());
            Port(body, source.Port);
            Port(body, destination.Port);
        }

        if (info.ServerName is { Length: > 0 } sni) Tlv(body, TypeAuthority, Encoding.ASCII.GetBytes(sni));
        if (info.ApplicationProtocol is { Length: > 0 } alpn) Tlv(body, TypeAlpn, Encoding.ASCII.GetBytes(alpn));

        var auth = info.ClientAuth;
        var presented = auth?.Leaf is not null;
        // CERT_SESS: a certificate was given at least once over the session; CERT_CONN: on this very connection.
        var ssl = new List<byte> { (byte)(ClientSsl | (presented ? ClientCertSession | (info.Resumed ? 0 : ClientCertConnection) : 0)) };
        // verify: zero when the client presented a certificate and it verified, non-zero otherwise.
        var verify = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(verify, presented && auth!.Result == ClientAuthResult.Verified ? 0u : 1u);
        ssl.AddRange(verify);
        Tlv(ssl, SubtypeSslVersion, Encoding.ASCII.GetBytes(info.Version == TlsVersion.Tls13 ? "TLSv1.3" : "TLSv1.2"));
        Tlv(ssl, SubtypeSslCipher, Encoding.ASCII.GetBytes(info.CipherSuiteName));
        if (presented && auth!.Result == ClientAuthResult.Verified && Http.CertificateFields.Of(auth.Leaf!)?[SubjectCn] is { Length: > 0 } cn)
            Tlv(ssl, SubtypeSslCn, Encoding.UTF8.GetBytes(cn));
        Tlv(body, TypeSsl, [.. ssl]);

        var header = new byte[16 + body.Count];
        Signature.CopyTo(header);
        header[12] = 0x21; // version 2, command PROXY
        header[13] = family;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), checked((ushort)body.Count));
        body.CopyTo(header, 16);
        return header;
    }

    /// <summary>
    /// Where the certificate fields hold the subject's CN: read from the name's structure, never by splitting a printed
    /// subject (where another attribute's value could carry ", CN=..."), and parsed once per verified certificate.
    /// </summary>
    private static readonly int SubjectCn = Http.CertificateFields.Names.ToList().IndexOf("Subject-CN");

    private static IPEndPoint Unmapped(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;

    private static void Port(List<byte> body, int port)
    {
        body.Add((byte)(port >> 8));
        body.Add((byte)port);
    }

    private static void Tlv(List<byte> body, byte type, byte[] value)
    {
        // A TLV holds at most 65,535 bytes; ours are names and a common name, far below.
        var length = Math.Min(value.Length, ushort.MaxValue);
        body.Add(type);
        body.Add((byte)(length >> 8));
        body.Add((byte)length);
        body.AddRange(value.AsSpan(0, length).ToArray());
    }

}
