using System.Buffers;
using CsCheck;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Net;
using Xunit;
using static SslCluster.Protocol.Tests.Http.Http2ExchangeTests;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// For any sequence of HTTP/2 frames (any type, flags, stream and length, well-formed or not), cut into reads anywhere:
/// the relay passes every byte unchanged and in order, never throws, and a drain's GOAWAY and PING go in whole at a frame
/// boundary of the server's bytes, nowhere else.
/// </summary>
public sealed class Http2ExchangePropertyTests
{
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    // Every frame type (10 and 11 are unknown types, which a receiver ignores), any flags, streams small and large.
    private static readonly Gen<byte[]> GenFrame =
        from type in Gen.Byte[0, 11]
        from flags in Gen.Byte
        from stream in Gen.OneOf(Gen.Int[0, 9], Gen.Int[0, int.MaxValue])
        from length in Gen.OneOf(Gen.Int[0, 12], Gen.Int[0, 3000])
        select Frame(type, flags, stream, length, fill: (byte)(length * 31));

    private static readonly Gen<byte[]> GenFrames = GenFrame.Array[0, 30].Select(f => f.SelectMany(b => b).ToArray());

    private static readonly Gen<int[]> GenCuts = Gen.Int[1, 40].Array[1, 8];

    /// <summary>Where each frame of <paramref name="frames"/> begins, and its end.</summary>
    private static HashSet<int> Boundaries(byte[] frames)
    {
        var at = 0;
        var boundaries = new HashSet<int> { 0 };
        while (at + 9 <= frames.Length)
        {
            at += 9 + ((frames[at] << 16) | (frames[at + 1] << 8) | frames[at + 2]);
            if (at <= frames.Length) boundaries.Add(at);
        }
        return boundaries;
    }

    [Fact]
    public void Relay_AnyFramesCutAnywhere_EveryBytePassesUnchanged() =>
        Gen.Select(GenFrames, GenFrames, GenCuts, GenCuts).Sample((client, server, clientCuts, serverCuts) =>
        {
            var h2 = new Http2Exchange();
            var fromClient = Preface.Concat(client).ToArray();
            Assert.Equal(fromClient, Feed(h2.ProcessRequest, fromClient, clientCuts));
            Assert.Equal(server, Feed(h2.Process, server, serverCuts));
            var rest = new ArrayBufferWriter<byte>();
            h2.CompleteRequests(rest);
            Assert.Equal(0, rest.WrittenCount);
        }, iter: 300);

    [Fact]
    public void Drain_AnyServerFramesCutAnywhere_GoAwayAndPingGoInWholeAtOneFrameBoundaryOrNotAtAll() =>
        Gen.Select(GenFrames, GenCuts).Sample((server, cuts) =>
        {
            var h2 = new Http2Exchange();
            h2.ProcessRequest(Preface, new ArrayBufferWriter<byte>());
            h2.GoAway();

            var got = Feed(h2.Process, server, cuts);

            if (got.Length == server.Length)
            {
                // Not sent: the server sent no whole frame, stopped the flow (its own GOAWAY), or never left a header block.
                Assert.Equal(server, got);
                return;
            }
            Assert.Equal(server.Length + 34, got.Length);
            // At a boundary after the server's first frame, the 34 bytes are a GOAWAY (type 7) then a PING (type 6), and
            // the server's bytes on either side come as they were.
            Assert.Contains(Boundaries(server), b => b > 0 &&
                got.AsSpan(0, b).SequenceEqual(server.AsSpan(0, b)) &&
                got[b + 3] == 7 && got[b + 17 + 3] == 6 &&
                got.AsSpan(b + 34).SequenceEqual(server.AsSpan(b)));
        }, iter: 300);
}
