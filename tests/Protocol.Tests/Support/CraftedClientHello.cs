using System.Buffers.Binary;
using System.Text;

namespace SslCluster.Protocol.Tests.Support;

/// <summary>
/// Builds a TLS 1.2 ClientHello byte by byte, for offers no real client library still makes (RC4, export, DES).
/// </summary>
public static class CraftedClientHello
{
    public static byte[] Tls12(int[] suites, string? serverName = null)
    {
        var body = new List<byte> { 3, 3 };                 // client_version TLS 1.2
        body.AddRange(new byte[32]);                       // random
        body.Add(0);                                       // session_id<0..32>
        AddUInt16(body, suites.Length * 2);                // cipher_suites<2..2^16-2>
        foreach (int suite in suites)
        {
            AddUInt16(body, suite);
        }

        body.AddRange([1, 0]);                             // compression_methods: null
        var extensions = new List<byte>();
        AddExtension(extensions, 10, [0, 4, 0, 0x1d, 0, 0x17]);          // supported_groups: x25519, P-256
        AddExtension(extensions, 11, [1, 0]);                            // ec_point_formats: uncompressed
        AddExtension(extensions, 13, [0, 4, 4, 1, 4, 3]);                // signature_algorithms: rsa/ecdsa sha256
        AddExtension(extensions, 0xff01, [0]);                           // renegotiation_info (RFC 5746)
        if (serverName is not null)
        {
            byte[] name = Encoding.ASCII.GetBytes(serverName);
            var sni = new List<byte>();
            AddUInt16(sni, name.Length + 3);
            sni.Add(0);
            AddUInt16(sni, name.Length);
            sni.AddRange(name);
            AddExtension(extensions, 0, [.. sni]);
        }

        AddUInt16(body, extensions.Count);
        body.AddRange(extensions);

        var handshake = new List<byte> { 1, (byte)(body.Count >> 16), (byte)(body.Count >> 8), (byte)body.Count };
        handshake.AddRange(body);
        var record = new List<byte> { 22, 3, 1 };
        AddUInt16(record, handshake.Count);
        record.AddRange(handshake);
        return [.. record];
    }

    private static void AddExtension(List<byte> output, int type, byte[] data)
    {
        AddUInt16(output, type);
        AddUInt16(output, data.Length);
        output.AddRange(data);
    }

    private static void AddUInt16(List<byte> output, int value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)value);
        output.AddRange(bytes.ToArray());
    }
}
