using System.Security.Authentication;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>ClientHelloParser against hellos captured from real clients at test time, their prefixes, and garbage.</summary>
public sealed class ClientHelloParserTests
{
    [Fact]
    public async Task TryParse_OpenSslHello_ReturnsSniAlpnVersionsAndSuites()
    {
        byte[] hello = await ClientHelloCapture.FromOpenSslAsync("Example.TEST", "h2,http/1.1");

        var status = ClientHelloParser.TryParse(hello, out var info);

        Assert.Equal(ClientHelloParseStatus.Ok, status);
        Assert.Equal("example.test", info!.ServerName);
        Assert.Equal(["h2", "http/1.1"], info.ApplicationProtocols);
        Assert.Equal(0x0303, info.LegacyVersion);
        Assert.Contains(0x0304, info.SupportedVersions);
        Assert.Equal(0x0304, info.HighestVersion);
        Assert.Contains(0x1301, info.CipherSuites);
        Assert.Contains(0xC02F, info.CipherSuites);
        Assert.Equal(hello.Length, info.BytesConsumed);
    }

    [Fact]
    public async Task TryParse_SslStreamTls12Hello_ReturnsSniAndNoSupportedVersions()
    {
        byte[] hello = await ClientHelloCapture.FromSslStreamAsync("dotnet.test", SslProtocols.Tls12);

        var status = ClientHelloParser.TryParse(hello, out var info);

        Assert.Equal(ClientHelloParseStatus.Ok, status);
        Assert.Equal("dotnet.test", info!.ServerName);
        Assert.Equal(["http/1.1"], info.ApplicationProtocols);
        Assert.Equal(0x0303, info.HighestVersion);
    }

    [Fact]
    public async Task TryParse_OpenSslHelloWithSessionId_ReturnsSessionId()
    {
        // -tls1_2 with a fabricated session: openssl sends a 32-byte legacy_session_id in TLS 1.3 compatibility
        // mode anyway, so a plain TLS 1.3 hello already carries one.
        byte[] hello = await ClientHelloCapture.FromOpenSslAsync("localhost", "http/1.1");

        Assert.Equal(ClientHelloParseStatus.Ok, ClientHelloParser.TryParse(hello, out var info));
        Assert.Equal(32, info!.SessionId.Length);
    }

    [Fact]
    public async Task TryParse_EveryTruncatedPrefixOfRealHellos_ReturnsIncomplete()
    {
        byte[][] hellos =
        [
            await ClientHelloCapture.FromOpenSslAsync("localhost", "http/1.1"),
            await ClientHelloCapture.FromSslStreamAsync("dotnet.test", SslProtocols.Tls12 | SslProtocols.Tls13),
        ];

        foreach (byte[] hello in hellos)
        {
            for (int length = 0; length < hello.Length; length++)
            {
                var status = ClientHelloParser.TryParse(hello.AsSpan(0, length), out var info);
                Assert.True(status == ClientHelloParseStatus.Incomplete, $"prefix {length}/{hello.Length}: {status}");
                Assert.Null(info);
            }

            Assert.Equal(ClientHelloParseStatus.Ok, ClientHelloParser.TryParse(hello, out _));
        }
    }

    [Fact]
    public async Task TryParse_HelloSplitAcrossRecords_ReturnsSameFields()
    {
        byte[] hello = await ClientHelloCapture.FromOpenSslAsync("split.test", "http/1.1");
        byte[] split = SplitIntoRecords(hello, 100);

        Assert.Equal(ClientHelloParseStatus.Ok, ClientHelloParser.TryParse(split, out var info));
        Assert.Equal("split.test", info!.ServerName);
        Assert.Equal(split.Length, info.BytesConsumed);
        for (int length = 0; length < split.Length; length++)
        {
            Assert.Equal(ClientHelloParseStatus.Incomplete, ClientHelloParser.TryParse(split.AsSpan(0, length), out _));
        }
    }

    [Fact]
    public async Task TryParse_HelloFollowedByMoreBytes_ParsesOnlyTheHello()
    {
        byte[] hello = await ClientHelloCapture.FromOpenSslAsync("localhost", "http/1.1");
        byte[] data = [.. hello, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01];

        Assert.Equal(ClientHelloParseStatus.Ok, ClientHelloParser.TryParse(data, out var info));
        Assert.Equal(hello.Length, info!.BytesConsumed);
    }

    [Theory]
    [InlineData(new byte[] { 0x47, 0x45, 0x54, 0x20 })]                         // "GET "
    [InlineData(new byte[] { 0x17, 0x03, 0x03, 0x00, 0x10 })]                   // application data record
    [InlineData(new byte[] { 0x16, 0x02, 0x00 })]                               // record version 2.0
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x00 })]                   // empty handshake fragment
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x40, 0x01 })]                   // fragment above 2^14
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00 })] // ServerHello
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0x02, 0x03 })] // version 2.3
    public void TryParse_NotAClientHello_ReturnsInvalid(byte[] data)
    {
        Assert.Equal(ClientHelloParseStatus.Invalid, ClientHelloParser.TryParse(data, out var info));
        Assert.Null(info);
    }

    [Fact]
    public void TryParse_Ssl2Hello_ReturnsUnsupported()
    {
        byte[] ssl2 = [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15];

        Assert.Equal(ClientHelloParseStatus.Unsupported, ClientHelloParser.TryParse(ssl2, out _));
    }

    [Fact]
    public void TryParse_DeclaredLengthAboveLimit_ReturnsUnsupported()
    {
        byte[] huge = [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x01];

        Assert.Equal(ClientHelloParseStatus.Unsupported, ClientHelloParser.TryParse(huge, out _));
    }

    [Fact]
    public void TryParse_CraftedTls12HelloWithoutExtensionsBlock_ReturnsOk()
    {
        // RFC 5246: the extensions block may be absent.
        byte[] body = [3, 3, .. new byte[32], 0, 0, 2, 0xC0, 0x2F, 1, 0];
        byte[] hello = [0x16, 3, 1, 0, (byte)(body.Length + 4), 1, 0, 0, (byte)body.Length, .. body];

        Assert.Equal(ClientHelloParseStatus.Ok, ClientHelloParser.TryParse(hello, out var info));
        Assert.Null(info!.ServerName);
        Assert.Equal([0xC02F], info.CipherSuites);
        Assert.Empty(info.SupportedVersions);
    }

    [Fact]
    public void TryParse_CraftedHelloWithSni_ReturnsLowerCaseName()
    {
        byte[] hello = CraftedClientHello.Tls12([0xC02F], serverName: "WWW.Example.COM.");

        Assert.Equal(ClientHelloParseStatus.Ok, ClientHelloParser.TryParse(hello, out var info));
        Assert.Equal("www.example.com", info!.ServerName);
    }

    [Fact]
    public async Task TryParse_RandomCorruptionsOfRealHello_NeverThrows()
    {
        byte[] hello = await ClientHelloCapture.FromOpenSslAsync("localhost", "http/1.1");
        var random = new Random(1234);
        for (int i = 0; i < 5000; i++)
        {
            byte[] copy = (byte[])hello.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                copy[random.Next(copy.Length)] = (byte)random.Next(256);
            }

            var status = ClientHelloParser.TryParse(copy.AsSpan(0, random.Next(copy.Length + 1)), out var info);
            Assert.True(Enum.IsDefined(status));
            Assert.Equal(status == ClientHelloParseStatus.Ok, info is not null);
        }

        for (int i = 0; i < 2000; i++)
        {
            byte[] garbage = new byte[random.Next(0, 600)];
            random.NextBytes(garbage);
            _ = ClientHelloParser.TryParse(garbage, out _);
        }
    }

    private static byte[] SplitIntoRecords(byte[] singleRecordHello, int fragmentSize)
    {
        byte[] handshake = singleRecordHello[5..];
        var output = new List<byte>();
        for (int offset = 0; offset < handshake.Length; offset += fragmentSize)
        {
            int length = Math.Min(fragmentSize, handshake.Length - offset);
            output.AddRange([0x16, 0x03, 0x01, (byte)(length >> 8), (byte)length]);
            output.AddRange(handshake.AsSpan(offset, length).ToArray());
        }

        return [.. output];
    }
}
