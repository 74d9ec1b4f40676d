using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;
using Xunit;
using static SslCluster.Protocol.Tests.Runtime.HttpReuseTests;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// <c>ssl-server N send-proxy-v2</c>: the clear-text server reads a PROXY protocol v2 header before the client's bytes,
/// naming the client and the VIP, with the TLS facts as TLVs (haproxy.org proxy-protocol.txt 2.2).
/// </summary>
public sealed class ProxyProtocolDataPathTests
{
    /// <summary>The TLVs of a header's body after the addresses, by type (the SSL TLV's value kept whole).</summary>
    private static Dictionary<byte, byte[]> Tlvs(ReadOnlySpan<byte> tlvs)
    {
        var found = new Dictionary<byte, byte[]>();
        while (tlvs.Length >= 3)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(tlvs[1..]);
            found[tlvs[0]] = tlvs.Slice(3, length).ToArray();
            tlvs = tlvs[(3 + length)..];
        }

        return found;
    }

    [Fact]
    public void Header_Ipv4ClientWithVerifiedCertificate_AddressesAndTlsTlvsAsTheSpecificationLaysThemOut()
    {
        using var ca = SslCluster.TestSupport.TestCertificateAuthority.Create("PROXY CA");
        // An organisation whose value reads like a CN: the CN TLV comes from the name's structure, not its printed form.
        using var alice = ca.IssueClient("alice, O=\"x, CN=admin\"");
        var info = new HandshakeInfo(TlsVersion.Tls13, 0x1301, "vip.test", false, "b", null,
            new ClientAuthOutcome(ClientAuthResult.Verified, alice.ToX509().Subject, "CN=CA", "01", "ok") { Chain = [alice.Der] })
        {
            ApplicationProtocol = "http/1.1",
        };

        var header = ProxyProtocolV2.Header(new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.5"), 40000), new IPEndPoint(IPAddress.Parse("10.0.0.1"), 443), info);

        Assert.Equal(ProxyProtocolV2.Signature.ToArray(), header[..12]);
        Assert.Equal((0x21, 0x11), (header[12], header[13]));
        Assert.Equal(header.Length - 16, BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(14)));
        Assert.Equal(new byte[] { 127, 0, 0, 5, 10, 0, 0, 1, 0x9C, 0x40, 0x01, 0xBB }, header[16..28]);
        var tlvs = Tlvs(header.AsSpan(28));
        Assert.Equal("vip.test", Encoding.ASCII.GetString(tlvs[ProxyProtocolV2.TypeAuthority]));
        Assert.Equal("http/1.1", Encoding.ASCII.GetString(tlvs[ProxyProtocolV2.TypeAlpn]));
        var ssl = tlvs[ProxyProtocolV2.TypeSsl];
        Assert.Equal(ProxyProtocolV2.ClientSsl | ProxyProtocolV2.ClientCertConnection | ProxyProtocolV2.ClientCertSession, ssl[0]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(ssl.AsSpan(1)));
        var sub = Tlvs(ssl.AsSpan(5));
        Assert.Equal("TLSv1.3", Encoding.ASCII.GetString(sub[ProxyProtocolV2.SubtypeSslVersion]));
        Assert.Equal("TLS_AES_128_GCM_SHA256", Encoding.ASCII.GetString(sub[ProxyProtocolV2.SubtypeSslCipher]));
        Assert.Equal("alice", Encoding.UTF8.GetString(sub[ProxyProtocolV2.SubtypeSslCn]));
    }

    [Fact]
    public void Header_NoCertificateAndUnknownClient_AfUnspecAndVerifyNonZero()
    {
        var info = new HandshakeInfo(TlsVersion.Tls12, 0xC02F, null, false, "b", null);

        var header = ProxyProtocolV2.Header(null, new IPEndPoint(IPAddress.Loopback, 443), info);

        Assert.Equal(0x00, header[13]);
        var ssl = Tlvs(header.AsSpan(16))[ProxyProtocolV2.TypeSsl];
        Assert.Equal(ProxyProtocolV2.ClientSsl, ssl[0]);
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32BigEndian(ssl.AsSpan(1)));
        Assert.False(Tlvs(ssl.AsSpan(5)).ContainsKey(ProxyProtocolV2.SubtypeSslCn));
    }

    [Fact]
    public async Task SendProxyV2_TerminatedConnection_TheServerReadsTheHeaderBeforeTheRequest()
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        var port = ((IPEndPoint)server.LocalEndpoint).Port;
        var received = ServeOnceAsync(server);
        using var node = new Node(port, "ssl-server 1 send-proxy-v2");

        var answer = await node.ClientAsync(async ssl =>
        {
            await ssl.WriteAsync(Encoding.ASCII.GetBytes("GET /p HTTP/1.1\r\nHost: vip.test\r\nConnection: close\r\n\r\n"));
            return await ReadResponseAsync(ssl);
        });
        var (header, request) = await received.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal);
        Assert.Equal(ProxyProtocolV2.Signature.ToArray(), header[..12]);
        Assert.Equal(0x11, header[13]);
        Assert.Equal(new byte[] { 127, 0, 0, 1 }, header[16..20]);
        Assert.Equal(new byte[] { 10, 60, 0, 1 }, header[20..24]);
        Assert.Equal(443, BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(26)));
        Assert.StartsWith("TLSv1.", Encoding.ASCII.GetString(Tlvs(Tlvs(header.AsSpan(28))[ProxyProtocolV2.TypeSsl].AsSpan(5))[ProxyProtocolV2.SubtypeSslVersion]), StringComparison.Ordinal);
        Assert.StartsWith("GET /p HTTP/1.1\r\n", request, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SendProxyV2_PrintsBackAndIsRefusedWithHttpReuseAndOnAClientService()
    {
        var css = """
            ssl-proxy-list p
              ssl-server 1
              ssl-server 1 send-proxy-v2
            """;
        var parsed = SslCluster.Protocol.Config.ConfigParser.Parse(css);
        var withReuse = SslCluster.Protocol.Config.ConfigParser.Parse(css + "\n  ssl-server 1 http-reuse");
        var client = SslCluster.Protocol.Config.ConfigParser.Parse(
            "ssl-proxy context c\n policy http-header p\n  send-proxy-v2\n service s client\n  policy http-header p");

        Assert.True(parsed.Succeeded, string.Join("\n", parsed.Diagnostics));
        Assert.Contains("ssl-server 1 send-proxy-v2", SslCluster.Protocol.Config.ConfigPrinter.Print(parsed.Config!), StringComparison.Ordinal);
        Assert.Contains(withReuse.Errors, e => e.Message.Contains("http-reuse shares back-end connections", StringComparison.Ordinal));
        Assert.Contains(client.Errors, e => e.Message.Contains("clients speak clear text", StringComparison.Ordinal));
    }

    /// <summary>Accepts one connection: reads the PROXY header (16 bytes and its length), then one request head, answers 200 and closes.</summary>
    private static async Task<(byte[] Header, string Request)> ServeOnceAsync(TcpListener listener)
    {
        using var client = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var stream = client.GetStream();
        var fixedPart = new byte[16];
        await stream.ReadExactlyAsync(fixedPart);
        var header = new byte[16 + BinaryPrimitives.ReadUInt16BigEndian(fixedPart.AsSpan(14))];
        fixedPart.CopyTo(header, 0);
        await stream.ReadExactlyAsync(header.AsMemory(16));
        var request = new StringBuilder();
        var buffer = new byte[4096];
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer);
            if (n == 0) break;
            request.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray());
        return (header, request.ToString());
    }
}
