using Xunit;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tests.Config;

/// <summary>Client authentication in the configuration language: the reference samples, every command, its errors.</summary>
public sealed class ClientAuthConfigTests
{
    /// <summary>The certificate store the two client-auth samples assume: each associated file, of the right kind.</summary>
    private sealed class SampleStore(params (string File, StoredFileKind Kind)[] files) : ICertStoreView
    {
        public StoredFileKind? KindOf(string fileName) =>
            files.Where(f => f.File == fileName).Select(f => (StoredFileKind?)f.Kind).FirstOrDefault();

        public string? MismatchReason(string keyFile, string certFile) => null;
    }

    private static readonly SampleStore Store = new(
        ("zakrsakeypair", StoredFileKind.RsaKey), ("zak-cert", StoredFileKind.Certificate),
        ("thawteca.cer", StoredFileKind.Certificate), ("tca.pem", StoredFileKind.Certificate),
        ("clientkey", StoredFileKind.RsaKey), ("clientcert.cer", StoredFileKind.Certificate));

    /// <summary>The error tests' valid base (proxy list spl, active, with ssl-server 1), plus two CA associations.</summary>
    private const string Base = ConfigErrorTests.Base + "\nssl associate cert ca1 ca1.pem\nssl associate cert ca2 ca2.pem";

    private static RunningConfig Parsed(string text)
    {
        var result = ConfigParser.Parse(Base + "\n" + text);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Config!;
    }

    private static ConfigDiagnostic OnlyError(string text)
    {
        var result = ConfigParser.Parse(Base + "\n" + text);
        Assert.False(result.Succeeded);
        return Assert.Single(result.Errors);
    }

    [Theory]
    [InlineData("client-auth-frontend.cfg", "thawteca")]
    [InlineData("client-auth-backend.cfg", "TCA")]
    public void Parse_ClientAuthSample_LoadsAuthenticationIgnoreAndCacert(string sample, string ca)
    {
        var result = ConfigParser.Parse(ReferenceSampleTests.Sample(sample), store: Store);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var server = result.Config!.ProxyLists["client-auth"].SslServers[20];
        Assert.True(server.ClientAuth.Enabled);
        Assert.Equal(ClientAuthFailureAction.Ignore, server.ClientAuth.Failure);
        Assert.Equal([ca], server.ClientAuth.CaCerts);
        Assert.Null(server.ClientAuth.Crl);
    }

    [Theory]
    [InlineData("client-auth-frontend.cfg")]
    [InlineData("client-auth-backend.cfg")]
    public void Print_ClientAuthSample_ParsesBackToAnEqualModel(string sample)
    {
        var first = ConfigParser.Parse(ReferenceSampleTests.Sample(sample)).Config!;

        var printed = ConfigPrinter.Print(first);
        var second = ConfigParser.Parse(printed);

        Assert.True(second.Succeeded, string.Join("\n", second.Errors) + "\n" + printed);
        Assert.Equal(first, second.Config);
        Assert.Contains("ssl-server 20 authentication enable\n", printed, StringComparison.Ordinal);
        Assert.Contains("ssl-server 20 failure ignore\n", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ClientAuthSampleWithCacertOnAKeyFile_RefusedNamingTheFile()
    {
        var store = new SampleStore(("zakrsakeypair", StoredFileKind.RsaKey), ("zak-cert", StoredFileKind.Certificate),
            ("thawteca.cer", StoredFileKind.RsaKey));

        var result = ConfigParser.Parse(ReferenceSampleTests.Sample("client-auth-frontend.cfg"), store: store);

        var error = Assert.Single(result.Errors);
        Assert.Contains("'thawteca.cer' is an RSA key, not a certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EveryClientAuthCommand_SetsTheModel()
    {
        var config = Parsed("""
            ssl-proxy-list spl
              crl-record crl1 "http://ca.example.com/ca.crl" ca1 24
              ssl-server 1 authentication enable
              ssl-server 1 cacert ca1
              ssl-server 1 cacert ca2
              ssl-server 1 cacert ca1
              ssl-server 1 crl crl1
              ssl-server 1 failure redirect
              ssl-server 1 failure-url "https://www.example.com/no-certificate.html"
            """);

        var list = config.ProxyLists["spl"];
        Assert.Equal(new CrlRecord("crl1", "http://ca.example.com/ca.crl", "ca1", 24), list.CrlRecords["crl1"]);
        var auth = list.SslServers[1].ClientAuth;
        Assert.True(auth.Enabled);
        Assert.Equal(["ca1", "ca2"], auth.CaCerts);
        Assert.Equal("crl1", auth.Crl);
        Assert.Equal(ClientAuthFailureAction.Redirect, auth.Failure);
        Assert.Equal("https://www.example.com/no-certificate.html", auth.FailureUrl);
    }

    [Fact]
    public void Parse_NoForms_RestoreTheDefaults()
    {
        var config = Parsed("""
            ssl-proxy-list spl
              crl-record crl1 "http://ca.example.com/ca.crl" ca1
              ssl-server 1 authentication enable
              ssl-server 1 cacert ca1
              ssl-server 1 cacert ca2
              ssl-server 1 crl crl1
              ssl-server 1 failure ignore
              ssl-server 1 failure-url "http://x.example/"
              no ssl-server 1 cacert ca1
              no ssl-server 1 crl
              no ssl-server 1 failure
              no ssl-server 1 failure-url
              no ssl-server 1 authentication
              no crl-record crl1
            """);

        var list = config.ProxyLists["spl"];
        Assert.Empty(list.CrlRecords);
        Assert.Equal(ClientAuthSettings.Default with { CaCerts = new ValueList<string>(["ca2"]) }, list.SslServers[1].ClientAuth);
    }

    [Fact]
    public void Print_Defaults_AreOmitted()
    {
        var printed = ConfigPrinter.Print(Parsed(""));

        Assert.DoesNotContain("authentication", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("failure", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("crl", printed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssl-server 1 authentication on", "on", "write 'enable' or 'disable'")]
    [InlineData("ssl-server 1 failure rejekt", "rejekt", "did you mean 'reject'")]
    [InlineData("ssl-server 1 failure-url \"ftp://x.example/\"", "ftp://x.example/", "http:// or https://")]
    [InlineData("ssl-server 1 failure-url \"/relative\"", "/relative", "absolute")]
    [InlineData("crl-record c \"https://ca.example/ca.crl\" ca1", "https://ca.example/ca.crl", "http://")]
    [InlineData("crl-record c \"http://ca.example/ca.crl\" ca1 200", "200", "from 0 to 168")]
    [InlineData("crl-record c \"http://ca.example/ca.crl\"", "http://ca.example/ca.crl", "crl-record NAME \"URL\" SIGNCERT [HOURS]")]
    [InlineData("no ssl-server 1 cacert", "cacert", "no ssl-server 1 cacert NAME")]
    [InlineData("no ssl-server 1 cacert ca9", "ca9", "has no cacert")]
    [InlineData("no crl-record nothere", "nothere", "there is no crl-record")]
    public void Parse_BadClientAuthLine_NamesLineWordAndFix(string line, string word, string fix)
    {
        var error = OnlyError("ssl-proxy-list spl\n" + line);

        Assert.Equal(Base.Split('\n').Length + 2, error.Line);
        Assert.Equal(word, error.Word);
        Assert.Contains(fix, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssl-server 1 authentication enable", "no CA is trusted", "ssl-server 1 cacert NAME")]
    [InlineData("ssl-server 1 failure redirect", "failure redirect needs", "failure-url")]
    [InlineData("ssl-server 1 cacert k1", "cacert 'k1' is associated as rsakey, not cert", "ssl associate cert")]
    [InlineData("ssl-server 1 cacert nothere", "cacert 'nothere' is not associated", "ssl associate cert nothere FILE")]
    [InlineData("ssl-server 1 crl nothere", "crl 'nothere' is not a crl-record", "crl-record nothere")]
    [InlineData("crl-record c \"http://ca.example/ca.crl\" k1", "crl-record c: signing certificate 'k1' is associated as rsakey", "ssl associate cert")]
    public void Validate_InconsistentClientAuth_ExplainsTheFix(string line, string why, string fix)
    {
        var error = OnlyError("ssl-proxy-list spl\n" + line);

        Assert.Equal(0, error.Line);
        Assert.Contains("ssl-proxy-list spl", error.Message, StringComparison.Ordinal);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
        Assert.Contains(fix, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SuspendedList_AllowsAuthenticationBeforeItsCacert()
    {
        var result = ConfigParser.Parse(Base + "\nservice mod\nsuspend\nssl-proxy-list spl\nsuspend\nssl-server 1 authentication enable\nssl-server 1 failure redirect");

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
    }

    [Fact]
    public void Validate_FiveCasInOneProxyList_Refused()
    {
        var text = string.Join("\n", Enumerable.Range(3, 3).Select(i => $"ssl associate cert ca{i} ca{i}.pem")) + """

            service mod
              suspend
            ssl-proxy-list spl
              suspend
              ssl-server 2
              ssl-server 1 cacert ca1
              ssl-server 1 cacert ca2
              ssl-server 1 cacert ca3
              ssl-server 2 cacert ca4
              ssl-server 2 cacert ca5
            """;

        var error = OnlyError(text);

        Assert.Contains("5 CA certificates", error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ElevenCrlRecords_Refused()
    {
        var text = "ssl-proxy-list spl\n" + string.Join("\n", Enumerable.Range(1, 11).Select(i => $"crl-record c{i} \"http://ca.example/{i}.crl\" ca1"));

        var error = OnlyError(text);

        Assert.Contains("11 crl-records", error.Message, StringComparison.Ordinal);
        Assert.Contains("no crl-record NAME", error.Message, StringComparison.Ordinal);
    }
}
