using Org.BouncyCastle.Tls;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class TlsCipherSuitesTests
{
    [Fact]
    public void Filter_BrokenSuitesRequested_RefusesEachWithReasonAndUsesDefaults()
    {
        int[] requested =
        [
            CipherSuite.TLS_RSA_WITH_RC4_128_SHA, CipherSuite.TLS_RSA_EXPORT_WITH_RC4_40_MD5,
            CipherSuite.TLS_RSA_WITH_NULL_SHA256, CipherSuite.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
            CipherSuite.TLS_RSA_WITH_DES_CBC_SHA, CipherSuite.TLS_DH_anon_WITH_AES_128_CBC_SHA,
        ];

        int[] offered = TlsCipherSuites.Filter(requested, ServerKeyType.Rsa, out var rejected, out bool usedDefaults);

        Assert.True(usedDefaults);
        Assert.Equal([.. TlsCipherSuites.Tls13, .. TlsCipherSuites.Tls12Rsa], offered);
        Assert.Equal(requested, rejected.Select(r => r.Suite));
        Assert.Contains("RC4", rejected[0].Reason);
        Assert.Equal("TLS_RSA_WITH_RC4_128_SHA", rejected[0].Name);
        Assert.Contains("export", rejected[1].Reason);
        Assert.Contains("NULL", rejected[2].Reason);
        Assert.Contains("3DES", rejected[3].Reason);
        Assert.Contains("DES", rejected[4].Reason);
        Assert.Contains("anonymous", rejected[5].Reason);
    }

    [Fact]
    public void Filter_MixedRequestForRsaKey_KeepsUsableInOrderAndAddsTls13()
    {
        int[] requested =
        [
            CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_RSA_WITH_RC4_128_MD5,
            CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA,
            CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ];

        int[] offered = TlsCipherSuites.Filter(requested, ServerKeyType.Rsa, out var rejected, out bool usedDefaults);

        Assert.False(usedDefaults);
        Assert.Equal(
        [
            .. TlsCipherSuites.Tls13, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ], offered);
        Assert.Equal(3, rejected.Count);
        Assert.Contains("ECDSA certificate", rejected.Single(r => r.Suite == 0xC02B).Reason);
        Assert.Contains("not supported", rejected.Single(r => r.Suite == 0x002F).Reason);
    }

    [Fact]
    public void Filter_Null_GivesDefaultsForKeyTypeWithoutReport()
    {
        int[] offered = TlsCipherSuites.Filter(null, ServerKeyType.Ecdsa, out var rejected, out bool usedDefaults);

        Assert.Equal([.. TlsCipherSuites.Tls13, .. TlsCipherSuites.Tls12Ecdsa], offered);
        Assert.Empty(rejected);
        Assert.False(usedDefaults);
    }

    [Theory]
    [InlineData(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")]
    [InlineData(0x1303, "TLS_CHACHA20_POLY1305_SHA256")]
    [InlineData(0x0005, "TLS_RSA_WITH_RC4_128_SHA")]
    [InlineData(0xFAFA, "0xFAFA")]
    public void GetName_KnownAndUnknownSuites_ReturnsIanaNameOrHex(int suite, string name)
    {
        Assert.Equal(name, TlsCipherSuites.GetName(suite));
    }
}
