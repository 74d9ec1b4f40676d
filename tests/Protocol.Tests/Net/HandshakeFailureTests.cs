using System.Net.Sockets;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>Clients that never complete a handshake: no backend is dialled and nothing escapes.</summary>
public sealed class HandshakeFailureTests
{
    [Fact]
    public async Task RunAsync_GarbageBytes_EndsWithClientHandshakeFailedAndNoBackend()
    {
        await using var harness = ProxyHarness.Start(new EchoBackend());
        byte[][] garbage =
        [
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(),
            [0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00],
            [0x80, 0x2e, 0x01, 0x00, 0x02],
            [.. Enumerable.Range(0, 3000).Select(i => (byte)(i * 7))],
            [0x17, 0x03, 0x03, 0x00, 0x10, .. new byte[16]],
            [0x16, 0x03, 0x03, 0xFF, 0xFF],
        ];

        foreach (var bytes in garbage)
        {
            using var socket = await harness.ConnectRawAsync();
            await socket.SendAsync(bytes);
            socket.Shutdown(SocketShutdown.Send);
            await DrainAsync(socket);
        }

        var closed = await harness.Observer.WaitForClosedAsync(garbage.Length);
        Assert.All(closed, s =>
        {
            Assert.True(s.Error is ProxyError.ClientHandshakeFailed or ProxyError.ClientProtocolError, s.Message);
            Assert.False(s.BackendDialled);
        });
        Assert.Equal(0, harness.Backend.Connections);
    }

    [Fact]
    public async Task RunAsync_EveryTruncatedClientHelloThenClose_EndsFailedOrEmptyAndNoBackend()
    {
        byte[] hello = await ClientHelloCapture.FromOpenSslAsync("localhost", "http/1.1");
        await using var harness = ProxyHarness.Start(new EchoBackend());

        // Every prefix, 16 connections at a time (bounded: one connection per prefix length).
        using var gate = new SemaphoreSlim(16);
        var runs = Enumerable.Range(0, hello.Length).Select(async length =>
        {
            await gate.WaitAsync();
            try
            {
                using var socket = await harness.ConnectRawAsync();
                if (length > 0)
                {
                    await socket.SendAsync(hello.AsMemory(0, length));
                }

                socket.Shutdown(SocketShutdown.Send);
                await DrainAsync(socket);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(60));

        var closed = await harness.Observer.WaitForClosedAsync(hello.Length, TimeSpan.FromSeconds(30));
        // The client that sent nothing is a port check, not a failed handshake.
        Assert.Single(closed, s => s.Error == ProxyError.ClientClosedEmpty);
        Assert.All(closed, s =>
        {
            Assert.True(s.Error is ProxyError.ClientHandshakeFailed or ProxyError.ClientClosedEmpty, s.Message);
            Assert.False(s.BackendDialled);
            Assert.Null(s.Handshake);
        });
        Assert.Equal(0, harness.Backend.Connections);
        Assert.Equal(0, harness.Observer.InHandshake);
    }

    [Fact]
    public async Task RunAsync_ClientStopsMidHandshake_EndsWithHandshakeTimeout()
    {
        byte[] hello = await ClientHelloCapture.FromOpenSslAsync("localhost", "http/1.1");
        await using var harness = ProxyHarness.Start(new EchoBackend(),
            options: new ProxyConnectionOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        using var socket = await harness.ConnectRawAsync();
        await socket.SendAsync(hello.AsMemory(0, hello.Length / 2));

        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));

        Assert.Equal(ProxyError.ClientHandshakeTimeout, summary.Error);
        Assert.False(summary.BackendDialled);
        Assert.Equal(0, await DrainAsync(socket));
    }

    [Fact]
    public async Task RunAsync_ClientSendsNothing_EndsWithHandshakeTimeout()
    {
        await using var harness = ProxyHarness.Start(new EchoBackend(),
            options: new ProxyConnectionOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        using var socket = await harness.ConnectRawAsync();

        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));

        Assert.Equal(ProxyError.ClientHandshakeTimeout, summary.Error);
        Assert.Equal(0, harness.Backend.Connections);
    }

    [Theory]
    [InlineData("no shared cipher")]
    public async Task RunAsync_ClientHelloOfferingOnlyRc4DesExportNull_GetsHandshakeFailureAlertAndNoBackend(string why)
    {
        await using var harness = ProxyHarness.Start(new EchoBackend());
        int[] broken =
        [
            0x0005, // TLS_RSA_WITH_RC4_128_SHA
            0x0004, // TLS_RSA_WITH_RC4_128_MD5
            0xC011, // TLS_ECDHE_RSA_WITH_RC4_128_SHA
            0x000A, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
            0xC012, // TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
            0x0009, // TLS_RSA_WITH_DES_CBC_SHA
            0x0003, // TLS_RSA_EXPORT_WITH_RC4_40_MD5
            0x0008, // TLS_RSA_EXPORT_WITH_DES40_CBC_SHA
            0xC010, // TLS_ECDHE_RSA_WITH_NULL_SHA
            0x0002, // TLS_RSA_WITH_NULL_SHA
            0xC018, // TLS_ECDH_anon_WITH_AES_128_CBC_SHA
        ];
        using var socket = await harness.ConnectRawAsync();

        await socket.SendAsync(CraftedClientHello.Tls12(broken));
        byte[] answer = await ReadAllAsync(socket);

        // Alert record: type 21, version 3.x, length 2, level fatal(2), handshake_failure(40).
        Assert.Equal(7, answer.Length);
        Assert.Equal([21, 3], answer[..2]);
        Assert.Equal([0, 2, 2, 40], answer[3..]);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.ClientHandshakeFailed, summary.Error);
        Assert.Contains("handshake_failure", summary.Message);
        Assert.Contains(why, summary.Message);
        Assert.Equal(0, harness.Backend.Connections);
    }

    [Fact]
    public async Task RunAsync_UnknownServerName_GetsUnrecognizedNameAlert()
    {
        TlsFrontEndBinding? known = null;
        await using var harness = ProxyHarness.Start(new EchoBackend(),
            selector: name => name == "known.test" ? known : null);
        using var socket = await harness.ConnectRawAsync();

        await socket.SendAsync(CraftedClientHello.Tls12([0xC02F], serverName: "other.test"));
        byte[] answer = await ReadAllAsync(socket);

        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.True(answer.Length == 7 && answer[6] == 112, summary.Message);
        Assert.Equal(ProxyError.ClientServerNameRejected, summary.Error);
        Assert.Contains("other.test", summary.Message);
    }

    private static async Task<byte[]> ReadAllAsync(Socket socket)
    {
        var data = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            data.Write(buffer, 0, n);
        }

        return data.ToArray();
    }

    private static async Task<int> DrainAsync(Socket socket)
    {
        try
        {
            return (await ReadAllAsync(socket)).Length;
        }
        catch (SocketException)
        {
            return 0;
        }
    }
}
