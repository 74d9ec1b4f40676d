using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;

namespace SslCluster.Protocol.Tests.Support;

/// <summary>Captures the first flight (the ClientHello records) that a real client sends, at test time.</summary>
public static class ClientHelloCapture
{
    /// <summary>The ClientHello of <c>openssl s_client</c> with SNI and ALPN.</summary>
    public static async Task<byte[]> FromOpenSslAsync(string serverName, string alpn, string extraArgs = "")
    {
        using var listener = Listen(out int port);
        var accept = CaptureAsync(listener);
        var client = OpenSslClient.SClientAsync(port, $"-servername {serverName} -alpn {alpn} {extraArgs}", "",
            TimeSpan.FromSeconds(10));
        byte[] hello = await accept;
        await client;
        return hello;
    }

    /// <summary>The ClientHello of .NET's SslStream (OpenSSL underneath on Linux) with SNI and ALPN.</summary>
    public static async Task<byte[]> FromSslStreamAsync(string serverName, SslProtocols protocols)
    {
        using var listener = Listen(out int port);
        var accept = CaptureAsync(listener);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        using var stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            EnabledSslProtocols = protocols,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        };
        var handshake = stream.AuthenticateAsClientAsync(options);
        byte[] hello = await accept;
        try
        {
            await handshake.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is IOException or AuthenticationException or TimeoutException)
        {
            // The capture server closes after the hello: the client's handshake is expected to fail.
        }

        return hello;
    }

    private static Socket Listen(out int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        return listener;
    }

    private static async Task<byte[]> CaptureAsync(Socket listener)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var socket = await listener.AcceptAsync(timeout.Token);
        var data = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                throw new InvalidOperationException("client closed before a whole ClientHello arrived");
            }

            data.AddRange(buffer.AsSpan(0, n));
            var status = ClientHelloParser.TryParse(data.ToArray(), out var hello);
            if (status == ClientHelloParseStatus.Ok)
            {
                return data.Take(hello!.BytesConsumed).ToArray();
            }

            if (status != ClientHelloParseStatus.Incomplete)
            {
                throw new InvalidOperationException("capture is not a ClientHello: " + status);
            }
        }
    }
}
