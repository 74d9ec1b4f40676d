using SslCluster.Protocol.Config;
using Xunit;

namespace SslCluster.Protocol.Tests.Config;

/// <summary><c>ssl-server N revocation-check ocsp|crl|none ...</c> and <c>client-ocsp-url</c>: kept, printed, refused with a reason.</summary>
public sealed class RevocationConfigTests
{
    private const string Base = "ssl associate cert ca1 ca1.pem\nssl-proxy-list spl\nssl-server 1\nssl-server 1 cacert ca1\ncrl-record c1 \"http://127.0.0.1/ca.crl\" ca1\n";

    private static ClientAuthSettings Auth(string lines)
    {
        var result = ConfigParser.Parse(Base + lines);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Config!.ProxyLists["spl"].SslServers[1].ClientAuth;
    }

    [Theory]
    [InlineData("ocsp crl none", new[] { RevocationMethod.Ocsp, RevocationMethod.Crl, RevocationMethod.None })]
    [InlineData("CRL OCSP", new[] { RevocationMethod.Crl, RevocationMethod.Ocsp })]
    [InlineData("ocsp", new[] { RevocationMethod.Ocsp })]
    [InlineData("none", new[] { RevocationMethod.None })]
    public void Apply_RevocationCheck_KeptInOrderPrintedAndParsedBack(string words, RevocationMethod[] expected)
    {
        var lines = $"ssl-server 1 crl c1\nssl-server 1 revocation-check {words}\nssl-server 1 client-ocsp-url \"http://127.0.0.1:8081/\"";

        var auth = Auth(lines);

        Assert.Equal(expected, auth.Revocation);
        Assert.Equal(expected, auth.EffectiveRevocation);
        Assert.Equal("http://127.0.0.1:8081/", auth.OcspUrl);
        var printed = ConfigPrinter.Print(ConfigParser.Parse(Base + lines).Config!);
        Assert.Contains("ssl-server 1 revocation-check " + words.ToLowerInvariant() + "\n", printed, StringComparison.Ordinal);
        Assert.Equal(auth, ConfigParser.Parse(printed).Config!.ProxyLists["spl"].SslServers[1].ClientAuth);
        var reset = Auth(lines + "\nno ssl-server 1 revocation-check\nno ssl-server 1 client-ocsp-url");
        Assert.Empty(reset.Revocation);
        Assert.Null(reset.OcspUrl);
    }

    [Fact]
    public void EffectiveRevocation_NothingConfigured_TheCrlWhenThereIsOneElseNone()
    {
        Assert.Equal([RevocationMethod.None], Auth("").EffectiveRevocation);
        Assert.Equal([RevocationMethod.Crl], Auth("ssl-server 1 crl c1").EffectiveRevocation);
    }

    [Theory]
    [InlineData("ssl-server 1 revocation-check ocsp ocsp", "ocsp", "named twice")]
    [InlineData("ssl-server 1 revocation-check none ocsp", "ocsp", "put 'none' last")]
    [InlineData("ssl-server 1 revocation-check oscp", "oscp", "did you mean 'ocsp'")]
    [InlineData("ssl-server 1 revocation-check", "revocation-check", "incomplete command")]
    [InlineData("ssl-server 1 client-ocsp-url \"https://127.0.0.1/\"", "https://127.0.0.1/", "http")]
    public void Apply_BadRevocationLine_NamesTheWordAndTheFix(string line, string word, string fragment)
    {
        var result = ConfigParser.Parse(Base + line);

        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors);
        Assert.Equal(word, error.Word);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_CrlInTheOrderWithoutACrlRecord_TheCertificatesDistributionPointIsAsked()
    {
        var result = ConfigParser.Parse(Base + "ssl-server 1 revocation-check ocsp crl");

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        var server = result.Config!.ProxyLists.Values.SelectMany(l => l.SslServers.Values).Single();
        Assert.Equal([RevocationMethod.Ocsp, RevocationMethod.Crl], server.ClientAuth.Revocation);
        Assert.Null(server.ClientAuth.Crl);
    }
}
