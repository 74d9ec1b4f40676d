using SslCluster.OpenSsl;
using SslCluster.Protocol.Tests.Support;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>
/// The buffers of one OpenSSL connection: the input memory BIO never shrinks by itself, and
/// <see cref="SslConnection.ReleaseIdleBuffers"/> gives its memory back when it is empty; the output (our write BIO) holds a
/// pooled buffer only while something waits to be taken, and hands it over without a copy. An idle connection holds
/// OpenSSL's own state only.
/// </summary>
public sealed class SslConnectionBufferTests : IDisposable
{
    private readonly TestCertificate _ecdsa = TestCertificates.CreateEcdsa("buffers.example");

    public void Dispose() => _ecdsa.Dispose();

    [Fact]
    public void ReleaseIdleBuffers_AfterTheHandshakeAndABulkTransfer_CapacityGoneAndTheConnectionStillWorks()
    {
        using var pair = new Pair(_ecdsa);
        var (client, server, buffer) = (pair.Client, pair.Server, new byte[128 * 1024]);
        Assert.True(server.BufferCapacity > 0, "the handshake's flights were held");
        server.ReleaseIdleBuffers();
        Assert.Equal(0, server.BufferCapacity);

        // 64 KiB each way in one go: both BIOs grow to hold it.
        var bulk = new byte[64 * 1024];
        Random.Shared.NextBytes(bulk);
        Assert.Equal(SslStatus.Ok, client.Write(bulk));
        Move(client, server, buffer);
        Assert.Equal(bulk, ReadAll(server, bulk.Length, buffer));
        Assert.Equal(SslStatus.Ok, server.Write(bulk));
        Assert.True(server.BufferCapacity > 64 * 1024);
        Move(server, client, buffer);
        Assert.Equal(bulk, ReadAll(client, bulk.Length, buffer));

        server.ReleaseIdleBuffers();
        Assert.Equal(0, server.BufferCapacity);

        // Small records afterwards leave the BIOs as they are (no replacement per request), and still pass.
        Assert.Equal(SslStatus.Ok, client.Write("ping"u8));
        Move(client, server, buffer);
        Assert.Equal("ping"u8.ToArray(), ReadAll(server, 4, buffer));
        var small = server.BufferCapacity;
        server.ReleaseIdleBuffers();
        Assert.Equal(small, server.BufferCapacity);
    }

    [Fact]
    public void ReleaseIdleBuffers_OutputNotYetTaken_KeepsItWhole()
    {
        using var pair = new Pair(_ecdsa);
        var (client, server, buffer) = (pair.Client, pair.Server, new byte[128 * 1024]);
        var answer = new byte[10_000];
        Random.Shared.NextBytes(answer);
        Assert.Equal(SslStatus.Ok, server.Write(answer));
        var pending = server.PendingOutput;

        server.ReleaseIdleBuffers();

        Assert.Equal(pending, server.PendingOutput);
        Move(server, client, buffer);
        Assert.Equal(answer, ReadAll(client, answer.Length, buffer));
    }

    [Fact]
    public void TakeOutputBuffer_AWriteOfSeveralRecordsBeyondOneBuffer_HandsThemAllOverInOrderAndHoldsNothingAfter()
    {
        using var pair = new Pair(_ecdsa);
        var (client, server, buffer) = (pair.Client, pair.Server, new byte[128 * 1024]);
        Assert.Null(server.TakeOutputBuffer(out _, out var none));
        Assert.Equal(0, none);

        // 100 KiB sealed in one call: seven records, more than the first 16 KiB buffer holds, so it grows.
        var answer = new byte[100 * 1024];
        Random.Shared.NextBytes(answer);
        Assert.Equal(SslStatus.Ok, server.Write(answer));
        int pending = server.PendingOutput;
        Assert.True(pending > answer.Length, $"records add their overhead: {pending}");

        var taken = server.TakeOutputBuffer(out var start, out var count);
        Assert.NotNull(taken);
        Assert.Equal(pending, count);
        Assert.Equal(0, server.PendingOutput);
        Assert.Equal(0, server.TakeOutput(buffer));
        client.Feed(taken.AsSpan(start, count));
        System.Buffers.ArrayPool<byte>.Shared.Return(taken);
        Assert.Equal(answer, ReadAll(client, answer.Length, buffer));

        // Nothing waits, so no output buffer is held; what is left is the input BIO's capacity only.
        server.ReleaseIdleBuffers();
        Assert.Equal(0, server.BufferCapacity);
    }

    [Fact]
    public void TakeOutput_PartsTakenBetweenWrites_EveryByteLeavesOnceInTheOrderSealed()
    {
        using var pair = new Pair(_ecdsa);
        var (client, server, buffer) = (pair.Client, pair.Server, new byte[128 * 1024]);
        var first = new byte[12_000];
        var second = new byte[15_000];
        var third = new byte[40_000];
        Random.Shared.NextBytes(first);
        Random.Shared.NextBytes(second);
        Random.Shared.NextBytes(third);
        var wire = new List<byte>();

        // Part of the first record taken, then a second appended behind what waits (moved to the buffer's start), then a
        // third that makes it grow; the rest taken with the buffer itself.
        Assert.Equal(SslStatus.Ok, server.Write(first));
        int n = server.TakeOutput(buffer.AsSpan(0, 5_000));
        Assert.Equal(5_000, n);
        wire.AddRange(buffer.AsSpan(0, n).ToArray());
        Assert.Equal(SslStatus.Ok, server.Write(second));
        Assert.Equal(SslStatus.Ok, server.Write(third));
        var rest = server.TakeOutputBuffer(out var start, out var count);
        Assert.NotNull(rest);
        wire.AddRange(rest.AsSpan(start, count).ToArray());
        System.Buffers.ArrayPool<byte>.Shared.Return(rest);

        client.Feed(wire.ToArray());
        Assert.Equal([.. first, .. second, .. third], ReadAll(client, first.Length + second.Length + third.Length, buffer));
    }

    [Fact]
    public void OutputSink_TakesPartThenNothing_TheRestWaitsAndNothingPassesWhatWaits()
    {
        using var pair = new Pair(_ecdsa);
        var (client, server, buffer) = (pair.Client, pair.Server, new byte[256 * 1024]);
        var sink = new PartSink { Budget = 7_000 };
        server.OutputSink = sink;
        var first = new byte[30_000];
        var second = new byte[20_000];
        Random.Shared.NextBytes(first);
        Random.Shared.NextBytes(second);

        // The sink takes 7,000 bytes of the first record; the rest of it and every later record wait in the buffer,
        // even once the sink would take more: they must not pass what waits.
        Assert.Equal(SslStatus.Ok, server.Write(first));
        Assert.Equal(7_000, sink.Taken.Count);
        sink.Budget = int.MaxValue;
        Assert.Equal(SslStatus.Ok, server.Write(second));
        Assert.Equal(7_000, sink.Taken.Count);
        Assert.True(server.PendingOutput > first.Length + second.Length - 7_000);

        // Once what waits is taken, the next record goes to the sink whole, and nothing is left waiting.
        int n = server.TakeOutput(buffer);
        var third = new byte[5_000];
        Random.Shared.NextBytes(third);
        Assert.Equal(SslStatus.Ok, server.Write(third));
        Assert.Equal(0, server.PendingOutput);

        var wire = sink.Taken.Take(7_000).Concat(buffer.AsSpan(0, n).ToArray()).Concat(sink.Taken.Skip(7_000)).ToArray();
        client.Feed(wire);
        Assert.Equal([.. first, .. second, .. third], ReadAll(client, first.Length + second.Length + third.Length, buffer));
    }

    /// <summary>A sink that takes up to its budget, like a socket whose send buffer fills.</summary>
    private sealed class PartSink : IOutputSink
    {
        public List<byte> Taken { get; } = [];

        public int Budget { get; set; }

        public int TryTake(ReadOnlySpan<byte> data)
        {
            int n = Math.Min(Budget, data.Length);
            Taken.AddRange(data[..n].ToArray());
            Budget -= n;
            return n;
        }
    }

    /// <summary>A client and a server connection with the handshake done in memory, everything sent taken.</summary>
    private sealed class Pair : IDisposable
    {
        private readonly SslContext _serverContext;
        private readonly SslContext _clientContext;

        public Pair(TestCertificate certificate)
        {
            _serverContext = SslContext.CreateServer(new ServerContextOptions
            {
                Certificates = [OpenSslTestCredentials.ServerCertificate(certificate)],
                SessionIdContext = "buffers",
            }, "buffers");
            _clientContext = SslClient.CreateContext(new ClientContextOptions());
            Client = SslClient.Connect(_clientContext, "buffers.example", null);
            Server = SslConnection.CreateServer(_serverContext, _ => _serverContext);
            var buffer = new byte[128 * 1024];
            for (var round = 0; round < 10 && !(Client.Handshake() == SslStatus.Ok & Server.Handshake() == SslStatus.Ok); round++)
            {
                Move(Client, Server, buffer);
                Move(Server, Client, buffer);
            }

            Move(Server, Client, buffer);
        }

        public SslConnection Client { get; }

        public SslConnection Server { get; }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
            _clientContext.Dispose();
            _serverContext.Dispose();
        }
    }

    private static void Move(SslConnection from, SslConnection to, byte[] buffer)
    {
        int n;
        while ((n = from.TakeOutput(buffer)) > 0) to.Feed(buffer.AsSpan(0, n));
    }

    private static byte[] ReadAll(SslConnection connection, int count, byte[] buffer)
    {
        var all = new List<byte>();
        while (all.Count < count && connection.Read(buffer, out var read) == SslStatus.Ok && read > 0) all.AddRange(buffer.AsSpan(0, read).ToArray());
        return [.. all];
    }
}
