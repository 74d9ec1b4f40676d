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
/// Whatever the client sends arrives whole and in order, and its close ends the input. Written to as the relay writes:
/// records go to the socket as they are sealed or wait behind a flush, and arrive in the order sealed. Real loopback
/// sockets, .NET's SslStream as the client.
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
        await using var pair = await Connected.OpenAsync(_certificate);
        var (client, side, tls) = (pair.Client, pair.Side, pair.Tls);

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

    [Fact]
    public async Task WriteAsync_TwoWritersAndAClientThatReadsLate_EveryRecordArrivesOnceInTheOrderSealed()
    {
        await using var pair = await Connected.OpenAsync(_certificate);
        var (client, accepted, side, tls) = (pair.Client, pair.Accepted, pair.Side, pair.Tls);

        // Two writers at once, 150 chunks of 8 KiB each (2.4 MB), while the client reads nothing for the first 300 ms:
        // the socket's send buffer fills, records go to the socket, wait behind a flush, and are flushed in turns. A
        // record that passed another would fail the client's decryption (TLS numbers its records).
        const int Chunks = 150, ChunkSize = 8 * 1024;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        async Task WriteAll(byte writer)
        {
            var chunk = new byte[ChunkSize];
            for (int i = 0; i < Chunks; i++)
            {
                chunk.AsSpan().Fill(writer);
                BitConverter.TryWriteBytes(chunk.AsSpan(1), i);
                Assert.True(await side.WriteAsync(chunk, ChunkSize, deadline.Token));
            }
        }

        // Small socket buffers, so that the writers meet a full send buffer long before the end.
        accepted.SendBufferSize = 16 * 1024;
        client.ReceiveBufferSize = 16 * 1024;
        var writers = Task.WhenAll(Task.Run(() => WriteAll(1)), Task.Run(() => WriteAll(2)));
        await Task.Delay(300);
        Assert.False(writers.IsCompleted, "the writers never had to wait for the socket");
        var received = new byte[2 * Chunks * ChunkSize];
        int total = 0;
        while (total < received.Length)
        {
            int n = await tls.ReadAsync(received.AsMemory(total), deadline.Token);
            Assert.True(n > 0, $"the stream ended after {total} bytes");
            total += n;
        }

        await writers;
        var next = new int[3];
        for (int at = 0; at < received.Length; at += ChunkSize)
        {
            byte writer = received[at];
            Assert.True(writer is 1 or 2, $"chunk at {at} is not whole");
            Assert.Equal(next[writer]++, BitConverter.ToInt32(received, at + 1));
            Assert.True(received.AsSpan(at + 5, ChunkSize - 5).IndexOfAnyExcept(writer) < 0, $"chunk at {at} is not whole");
        }

        Assert.Equal(Chunks, next[1]);
        Assert.Equal(Chunks, next[2]);
        Assert.True(side.BytesSent > received.Length, $"{side.BytesSent} bytes of ciphertext counted for {received.Length} of clear text");
    }

    /// <summary>A TLS side on an accepted loopback socket, its handshake done with .NET's SslStream as the client.</summary>
    private sealed class Connected : IAsyncDisposable
    {
        private readonly SslContext _front;
        private readonly SslContext _context;
        private readonly Socket _listener;

        private Connected(SslContext front, SslContext context, Socket listener, Socket client, Socket accepted)
        {
            (_front, _context, _listener, Client, Accepted) = (front, context, listener, client, accepted);
            Side = new TlsSocketSide(accepted, SslConnection.CreateServer(front, _ => context), requireCloseNotify: false);
            Tls = new SslStream(new NetworkStream(client, ownsSocket: false), false, (_, _, _, _) => true);
        }

        public Socket Client { get; }

        public Socket Accepted { get; }

        public TlsSocketSide Side { get; }

        public SslStream Tls { get; }

        public static async Task<Connected> OpenAsync(TestCertificate certificate)
        {
            var front = SslContext.CreateFront(new FrontContextOptions());
            var context = SslContext.CreateServer(new ServerContextOptions
            {
                Certificates = [OpenSslTestCredentials.ServerCertificate(certificate)],
                SessionIdContext = "test/side",
            }, "side");
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!);
            var pair = new Connected(front, context, listener, client, await listener.AcceptAsync());
            var handshake = pair.Side.HandshakeAsync(CancellationToken.None).AsTask();
            await pair.Tls.AuthenticateAsClientAsync("side.example");
            Assert.Equal(SslStatus.Ok, await handshake);
            return pair;
        }

        public async ValueTask DisposeAsync()
        {
            await Tls.DisposeAsync();
            Side.Dispose();
            Accepted.Dispose();
            Client.Dispose();
            _listener.Dispose();
            _context.Dispose();
            _front.Dispose();
        }
    }
}
