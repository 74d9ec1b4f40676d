using SslCluster.OpenSsl;
using SslCluster.Protocol.Tests.Support;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>
/// The memory BIOs of one OpenSSL connection never shrink by themselves: <see cref="SslConnection.ReleaseIdleBuffers"/>
/// gives their memory back when they are empty, so that an idle connection holds OpenSSL's own state only.
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
