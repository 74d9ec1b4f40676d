using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>Shared plumbing of the back-end TLS client tests: dial, handshake, relay through a socket pair.</summary>
internal static class BackendTlsTestKit
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    public static BackendTlsProfile Profile(string key = "test/1", IReadOnlyList<X509Certificate2>? cas = null,
        ServerCredential? client = null, TimeSpan? sessionTimeout = null, TlsVersion minimum = TlsVersion.Tls12) =>
        new(key, null, minimum, client, cas, sessionTimeout ?? TimeSpan.FromMinutes(5));

    public static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint).WaitAsync(Bound);
        return socket;
    }

    /// <summary>Dials and runs the back-end handshake; the socket is disposed when the handshake failed.</summary>
    public static async Task<(IRelayFrontEnd? Side, ProxyError Error, string Message, Socket Socket)> HandshakeAsync(
        IPEndPoint endPoint, BackendTlsClient client, TimeSpan? timeout = null)
    {
        var socket = await ConnectAsync(endPoint);
        var (side, error, message) = await BackendTlsHandshake.RunAsync(socket, client, timeout ?? TimeSpan.FromSeconds(10),
            CancellationToken.None).WaitAsync(Bound);
        if (side is null)
        {
            socket.Dispose();
        }

        return (side, error, message, socket);
    }

    /// <summary>A connected pair on loopback: (the test's end, the relay's end).</summary>
    public static async Task<(Socket Test, Socket Relay)> PairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var test = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accept = listener.AcceptAsync();
        await test.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Bound);
        var relay = await accept.WaitAsync(Bound);
        return (test, relay);
    }

    /// <summary>
    /// Relays a clear-text socket pair to a TLS back-end side: sends <paramref name="request"/>, half-closes when asked,
    /// reads the whole answer to EOF (bounded), and returns it with the relay's state.
    /// </summary>
    public static async Task<(byte[] Answer, RelayState State)> ExchangeAsync(IRelayFrontEnd backend, byte[] request,
        bool halfCloseAfterRequest, int? expectedBytes = null)
    {
        var (test, relayEnd) = await PairAsync();
        using (test)
        using (relayEnd)
        {
            var pump = RelayPump.RunAsync(new TcpFrontEnd(relayEnd), backend, TimeSpan.FromSeconds(3), null, CancellationToken.None);
            await test.SendAsync(request, SocketFlags.None).WaitAsync(Bound);
            if (halfCloseAfterRequest)
            {
                test.Shutdown(SocketShutdown.Send);
            }

            var answer = await ReadToEndAsync(test, expectedBytes);
            if (!halfCloseAfterRequest)
            {
                test.Shutdown(SocketShutdown.Send);
            }

            var state = await pump.WaitAsync(Bound);
            return (answer, state);
        }
    }

    /// <summary>Reads until EOF (or, when given, until that many bytes arrived), within the test bound.</summary>
    public static async Task<byte[]> ReadToEndAsync(Socket socket, int? expectedBytes = null)
    {
        using var cts = new CancellationTokenSource(Bound);
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (expectedBytes is null || all.Length < expectedBytes)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0)
            {
                break;
            }

            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }

    public static string Text(byte[] bytes) => Encoding.ASCII.GetString(bytes);

    /// <summary>GET / through the relay to an <c>openssl s_server -www</c>; returns the page.</summary>
    public static async Task<string> GetPageAsync(IRelayFrontEnd backend)
    {
        var (answer, state) = await ExchangeAsync(backend, "GET / HTTP/1.0\r\n\r\n"u8.ToArray(), halfCloseAfterRequest: false);
        Assert.Equal(ProxyError.None, state.Error);
        return Text(answer);
    }
    /// <summary>One connection through the client to an <c>openssl s_server -www</c>: what was negotiated and the page.</summary>
    public static async Task<(BackendHandshakeInfo Info, string Page)> PageAsync(IPEndPoint endPoint, BackendTlsClient client)
    {
        var (side, _, message, socket) = await HandshakeAsync(endPoint, client);
        using (socket)
        {
            Assert.True(side is not null, message);
            var page = await GetPageAsync(side!);
            ((IDisposable)side!).Dispose();
            return (client.Handshake!, page);
        }
    }
}
