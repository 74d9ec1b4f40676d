using System.Buffers;
using System.Net.Sockets;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Net;
using Xunit;
using static SslCluster.Protocol.Tests.Tls.BackendTlsTestKit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>The relay's two copy loops and what a transform writes into them.</summary>
public sealed class RelayPumpTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(34)]
    [InlineData(100_000)]
    public void RelayOutput_FirstWriteWithASizeHint_GivesAtLeastThatMuchRoom(int size)
    {
        // What a transform that writes frames of its own asks for (an HTTP/2 GOAWAY and PING: 34 bytes in one span).
        using var output = new RelayOutput();
        output.Begin(new byte[16]);
        Assert.True(output.GetSpan(size).Length >= size);
        Assert.True(output.GetMemory(size).Length >= size);
        output.Advance(size);
        Assert.Equal(size, output.Count);
    }

    /// <summary>A transform with a defect: it throws on the back end's bytes.</summary>
    private sealed class ThrowingTransform : IRelayTransform
    {
        public bool RequestsEnded => false;

        public bool ExchangeOver => false;

        public void ProcessRequest(ReadOnlySpan<byte> clientBytes, IBufferWriter<byte> output) => output.Write(clientBytes);

        public void CompleteRequests(IBufferWriter<byte> output)
        {
        }

        public RequestEnd EndRequests() => RequestEnd.HalfClose;

        public void Process(ReadOnlySpan<byte> backendBytes, IBufferWriter<byte> output) => throw new InvalidOperationException("defect in the transform");

        public void Complete(IBufferWriter<byte> output)
        {
        }
    }

    [Fact]
    public async Task RunAsync_TransformThrowsOnOneSide_TheDefectComesOutInsteadOfACleanEnd()
    {
        // Before, the failed loop's exception was never looked at: the other loop ended cleanly and so did the relay, and
        // the connection's summary said nothing had gone wrong.
        var (client, clientRelay) = await PairAsync();
        var (backendRelay, backend) = await PairAsync();
        using (client)
        using (clientRelay)
        using (backendRelay)
        using (backend)
        {
            var relay = RelayPump.RunAsync(new TcpFrontEnd(clientRelay), new TcpFrontEnd(backendRelay, RelaySide.Backend),
                TimeSpan.FromSeconds(1), new ThrowingTransform(), CancellationToken.None);
            await backend.SendAsync("answer"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);

            var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => relay.WaitAsync(Bound));
            Assert.Equal("defect in the transform", thrown.Message);
        }
    }
}
