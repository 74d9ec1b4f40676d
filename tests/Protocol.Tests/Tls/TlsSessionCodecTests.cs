using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class TlsSessionCodecTests
{
    [Fact]
    public void ExportThenImport_Tls12Session_RoundTripsEveryField()
    {
        var crypto = new BcTlsCrypto();
        byte[] master = [.. Enumerable.Range(0, 48).Select(i => (byte)(i + 1))];
        var parameters = new SessionParameters.Builder()
            .SetCipherSuite(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
            .SetNegotiatedVersion(ProtocolVersion.TLSv12)
            .SetExtendedMasterSecret(true)
            .SetMasterSecret(crypto.CreateSecret(master))
            .Build();

        byte[] bytes = TlsSessionCodec.Export(crypto, parameters);
        var imported = TlsSessionCodec.Import(crypto, bytes)!;

        Assert.Equal(7 + 48, bytes.Length);
        Assert.Equal(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, imported.CipherSuite);
        Assert.Equal(ProtocolVersion.TLSv12, imported.NegotiatedVersion);
        Assert.True(imported.IsExtendedMasterSecret);
        Assert.Equal(master, imported.MasterSecret.Extract());

        // Export copied the secret: the original session is still usable.
        Assert.Equal(master, parameters.MasterSecret.Extract());
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 2, 3, 3, 0xC0, 0x2F, 1, 1, 9 })]
    [InlineData(new byte[] { 1, 3, 1, 0xC0, 0x2F, 1, 1, 9 })]
    [InlineData(new byte[] { 1, 3, 3, 0xC0, 0x2F, 1, 2, 9 })]
    public void Import_ForeignOrOldBytes_ReturnsNull(byte[] bytes)
    {
        Assert.Null(TlsSessionCodec.Import(new BcTlsCrypto(), bytes));
    }
}
