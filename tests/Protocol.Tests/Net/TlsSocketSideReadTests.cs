using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using SslCluster.OpenSsl;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>
/// The TLS side read as the relay reads it (wait, then read): after a wait that found the socket readable the
/// ciphertext is received at once, and after a receive that filled its buffer the next one goes straight to the socket.
/// Whatever the client sends arrives whole and in order, and its close ends the input. Real loopback sockets, .NET's
/// SslStream as the client.
/// </summary>
public sealed class TlsSocketSideReadTests : IDisposable
{
    private readonly TestCertificate _certificate = TestCertificates.CreateEcdsa("side.example");

    public void Dispose() => _certificate.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReadAsync_SmallMessagesThenAnUploadThenTheClose_EveryByteInOrderThenTheEnd(bool closeNotify)
    {
        using var front = SslContext.CreateFront(new FrontContextOptions());
        using var context = SslContext.CreateServer(new ServerContextOptions
        {
            Certificates = [OpenSslTestCredentials.ServerCertificate(_certificate)],
            SessionIdContext = "test/side",
        }, "side");
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();
        using var side = new TlsSocketSide(accepted, SslConnection.CreateServer(front, _ => context), requireCloseNotify: false);
        await using var tls = new SslStream(new NetworkStream(client, ownsSocket: false), false, (_, _, _, _) => true);

        var handshake = side.HandshakeAsync(CancellationToken.None).AsTask();
        await tls.AuthenticateAsClientAsync("side.example");
        Assert.Equal(SslStatus.Ok, await handshake);

        // Three small messages a moment apart (each read after a wait that had to wait), then 300 KB in one go (reads
        // that fill their buffer), then the client's close.
        var sent = new List<byte>();
        var sender = Task.Run(async () =>
        {
            foreach (var text in new[] { "one", "two", "three" })
            {
                var bytes = System.Text.Encoding.ASCII.GetBytes(text);
                sent.AddRange(bytes);
                await tls.WriteAsync(bytes);
                await tls.FlushAsync();
                await Task.Delay(50);
            }

            var upload = new byte[300_000];
            for (int i = 0; i < upload.Length; i++) upload[i] = (byte)(i % 251);
            sent.AddRange(upload);
            await tls.WriteAsync(upload);
            await tls.FlushAsync();
            if (closeNotify) await tls.ShutdownAsync();
            client.Shutdown(SocketShutdown.Send);
        });

        var received = new List<byte>();
        var buffer = new byte[SocketIo.BufferSize];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            await side.WaitReadableAsync(deadline.Token);
            var read = await side.ReadAsync(buffer, side.MaxWriteChunk, deadline.Token);
            if (read.End) break;
            received.AddRange(buffer.AsSpan(0, read.Count).ToArray());
        }

        await sender;
        Assert.Equal(sent, received);
        Assert.True(side.InputEnded);
        Assert.True(side.BytesReceived > 300_000, $"{side.BytesReceived} bytes of ciphertext");
    }
}
