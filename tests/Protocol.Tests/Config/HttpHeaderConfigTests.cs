using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Tests.Config;

/// <summary><c>ssl-server N http-header session | prefix | static</c>, its <c>no</c> forms, and the lines they insert.</summary>
public sealed class HttpHeaderConfigTests
{
    private const string Base = "ssl-proxy-list spl\nssl-server 1\n";

    private static SslServer Server(string lines)
    {
        var result = ConfigParser.Parse(Base + lines);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        return result.Config!.ProxyLists["spl"].SslServers[1];
    }

    private static ConfigDiagnostic Error(string lines)
    {
        var result = ConfigParser.Parse(Base + lines);
        Assert.False(result.Succeeded);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Apply_SessionPrefixAndStatic_Kept()
    {
        var server = Server("""
            ssl-server 1 http-header session
            ssl-server 1 http-header prefix "SSL-"
            ssl-server 1 http-header static "X-Offload: css11500"
            ssl-server 1 http-header static "X-Site:east"
            """);

        Assert.True(server.HttpHeaders.Session);
        Assert.Equal("SSL-", server.HttpHeaders.Prefix);
        Assert.Equal(["X-Offload:css11500", "X-Site:east"], server.HttpHeaders.Static);
    }

    [Fact]
    public void Apply_StaticOfANameAgain_ReplacesItInPlace()
    {
        var server = Server("""
            ssl-server 1 http-header static "X-A:1"
            ssl-server 1 http-header static "X-B:2"
            ssl-server 1 http-header static "x-a:3"
            """);

        Assert.Equal(["x-a:3", "X-B:2"], server.HttpHeaders.Static);
    }

    [Fact]
    public void Apply_NoForms_TakeEachPartOutAndTheBareFormAll()
    {
        var lines = """
            ssl-server 1 http-header session
            ssl-server 1 http-header prefix "SSL-"
            ssl-server 1 http-header static "X-A:1"
            ssl-server 1 http-header static "X-B:2"
            """;

        Assert.Equal(["X-B:2"], Server(lines + "\nno ssl-server 1 http-header static X-A").HttpHeaders.Static);
        Assert.Equal(["X-A:1"], Server(lines + "\nno ssl-server 1 http-header static \"X-B:2\"").HttpHeaders.Static);
        Assert.False(Server(lines + "\nno ssl-server 1 http-header session").HttpHeaders.Session);
        Assert.Null(Server(lines + "\nno ssl-server 1 http-header prefix").HttpHeaders.Prefix);
        Assert.Equal(HttpHeaderSettings.None, Server(lines + "\nno ssl-server 1 http-header").HttpHeaders);
    }

    [Theory]
    [InlineData("ssl-server 1 http-header sesion", "sesion", "did you mean 'session'")]
    [InlineData("ssl-server 1 http-header static \"X-A\"", "X-A", "\"NAME:VALUE\"")]
    [InlineData("ssl-server 1 http-header static \"Bad Name:1\"", "Bad Name:1", "header name")]
    [InlineData("ssl-server 1 http-header prefix \"SSL \"", "SSL ", "1 to 32 characters")]
    [InlineData("ssl-server 1 http-header client-cert full", "full", "'client-cert basic' (21)")]
    [InlineData("ssl-server 1 http-header client-cert bsic", "bsic", "did you mean 'basic'")]
    [InlineData("ssl-server 1 http-header client-cert pem pem", "pem", "unexpected word")]
    [InlineData("ssl-server 1 http-header server-cert all", "all", "unexpected word")]
    [InlineData("ssl-server 1 http-header xfc", "xfc", "did you mean 'xfcc'")]
    [InlineData("no ssl-server 1 http-header static X-None", "X-None", "no static line named 'X-None'")]
    [InlineData("ssl-server 1 http-header", "http-header", "incomplete command")]
    [InlineData("ssl-server 1 http-header static \"Content-Length:0\"", "Content-Length:0", "frames the request")]
    [InlineData("ssl-server 1 http-header static \"transfer-encoding:chunked\"", "transfer-encoding:chunked", "frames the request")]
    [InlineData("ssl-server 1 http-header static \"Host:evil\"", "Host:evil", "belongs to the connection")]
    [InlineData("ssl-server 1 http-header static \"X-A:caf\u00e9\"", "X-A:caf\u00e9", "printable ASCII")]
    public void Apply_BadHttpHeaderLine_NamesTheWordAndTheFix(string line, string word, string fragment)
    {
        var error = Error(line);

        Assert.Equal(word, error.Word);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("client-cert", ClientCertFields.All)]
    [InlineData("client-cert basic", ClientCertFields.Basic)]
    [InlineData("CLIENT-CERT PEM", ClientCertFields.Pem)]
    public void Apply_ClientCertForms_KeptPrintedAndTakenOutByTheirNoForm(string words, ClientCertFields expected)
    {
        var lines = $"""
            ssl-server 1 http-header {words}
            ssl-server 1 http-header server-cert
            ssl-server 1 http-header xfcc
            ssl-server 1 http-header rfc9440
            """;
        var server = Server(lines);

        Assert.Equal(expected, server.HttpHeaders.ClientCert);
        Assert.True(server.HttpHeaders.ServerCert && server.HttpHeaders.Xfcc && server.HttpHeaders.Rfc9440);
        var printed = ConfigPrinter.Print(ConfigParser.Parse(Base + lines).Config!);
        Assert.Contains("ssl-server 1 http-header " + words.ToLowerInvariant(), printed, StringComparison.Ordinal);
        Assert.Equal(server, ConfigParser.Parse(printed).Config!.ProxyLists["spl"].SslServers[1]);
        var none = Server(lines + """

            no ssl-server 1 http-header client-cert
            no ssl-server 1 http-header server-cert
            no ssl-server 1 http-header xfcc
            no ssl-server 1 http-header rfc9440
            """);
        Assert.Equal(HttpHeaderSettings.None, none.HttpHeaders);
    }

    [Theory]
    [InlineData("ssl-server 1 http-header client-cert basic", "ClientCert-RSA-Modulus:00")]
    [InlineData("ssl-server 1 http-header client-cert", "clientcert_valid:1")]
    [InlineData("ssl-server 1 http-header session\nssl-server 1 http-header prefix \"SSL-\"", "SSL-Session-Id:1")]
    [InlineData("ssl-server 1 http-header xfcc", "X-Forwarded-Client-Cert:Hash=00")]
    [InlineData("ssl-server 1 http-header rfc9440", "Client-Cert-Chain:x")]
    public void Validate_StaticLineWithTheNameOfAnInsertedField_Refused(string fields, string line)
    {
        var result = ConfigParser.Parse(Base + fields + $"\nssl-server 1 http-header static \"{line}\"");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Message.Contains("has the name of a field the ssl-server inserts", StringComparison.Ordinal));
        Assert.True(ConfigParser.Parse(Base + fields + "\nssl-server 1 http-header static \"X-Other:1\"").Succeeded);
    }

    [Fact]
    public void Apply_ClientIpPortAndAlias_KeptPrintedAndTakenOut()
    {
        var lines = "ssl-server 1 http-header client-ip-port\nssl-server 1 http-header alias clientip X-Real-Client";
        var server = Server(lines);

        Assert.True(server.HttpHeaders.ClientIpPort);
        Assert.Equal("X-Real-Client", server.HttpHeaders.Aliases["ClientIP"]);
        var printed = ConfigPrinter.Print(ConfigParser.Parse(Base + lines).Config!);
        Assert.Contains("ssl-server 1 http-header alias ClientIP X-Real-Client\n", printed, StringComparison.Ordinal);
        Assert.Equal(server, ConfigParser.Parse(printed).Config!.ProxyLists["spl"].SslServers[1]);
        Assert.Equal(HttpHeaderSettings.None, Server(lines + "\nno ssl-server 1 http-header alias ClientIP\nno ssl-server 1 http-header client-ip-port").HttpHeaders);
        Assert.Contains("frames the request", Error("ssl-server 1 http-header alias ClientIP Host").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ClientCertWithoutAuthentication_WarnsThatNoCertificateIsAskedFor()
    {
        var result = ConfigParser.Parse(Base + "ssl-server 1 http-header client-cert");

        Assert.True(result.Succeeded);
        Assert.Contains(result.Warnings, w => w.Message.Contains("without 'ssl-server 1 authentication enable'", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_SeventeenthStaticLine_Refused()
    {
        var lines = string.Join('\n', Enumerable.Range(1, HttpHeaderSettings.MaxStatic).Select(i => $"ssl-server 1 http-header static \"X-{i}:v\""));

        var error = Error(lines + "\nssl-server 1 http-header static \"X-Extra:v\"");

        Assert.Contains($"already inserts {HttpHeaderSettings.MaxStatic} static lines", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HttpHeaderWithH2Alpn_RefusedNamingBoth()
    {
        var result = ConfigParser.Parse(Base + "ssl-server 1 alpn h2 http/1.1\nssl-server 1 http-header session");

        Assert.Contains(result.Errors, e => e.Message.Contains("alpn 'h2' with http-header insertion", StringComparison.Ordinal));
    }

    [Fact]
    public void For_SessionWithPrefixAndStatic_FieldsInOrderPrefixOnFieldsOnly()
    {
        var settings = new HttpHeaderSettings { Session = true, Prefix = "SSL-", Static = new(["X-Offload:css"]) };
        var info = new HandshakeInfo(TlsVersion.Tls12, 0xC02F, null, false, "b", null) { SessionIdentity = "0A1B2C" };

        var lines = Lines(HttpHeaderFields.For(settings, info)!);

        Assert.Equal(
        [
            "SSL-Session-Id: 0A1B2C",
            "SSL-Session-Cipher-Name: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "SSL-Session-Cipher-Key-Size: 128",
            "SSL-Session-Cipher-Use-Size: 128",
            "SSL-Session-Step-Up: 0",
            "SSL-Session-Initial-Cipher-Name: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "SSL-Session-Initial-Cipher-Key-Size: 128",
            "SSL-Session-Initial-Cipher-Use-Size: 128",
            "X-Offload: css",
        ], lines);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0000000000000000")]
    public void For_NoSessionOrAllZeroId_NoSessionIdLine(string? id)
    {
        var settings = new HttpHeaderSettings { Session = true };
        var info = new HandshakeInfo(TlsVersion.Tls13, 0x1302, null, false, "b", null) { SessionIdentity = id };

        var lines = Lines(HttpHeaderFields.For(settings, info)!);

        Assert.DoesNotContain(lines, l => l.StartsWith("Session-Id", StringComparison.Ordinal));
        Assert.Contains("Session-Cipher-Key-Size: 256", lines);
    }

    [Fact]
    public void For_NoSessionId_TheClientsSessionIdLineIsStillTakenOut()
    {
        var settings = new HttpHeaderSettings { Session = true };
        var info = new HandshakeInfo(TlsVersion.Tls13, 0x1301, null, false, "b", null);
        using var exchange = new HttpExchange(null, false, HttpHeaderFields.For(settings, info));

        var forwarded = Http.HttpExchangeTests.Forward(exchange, "GET / HTTP/1.1\r\nsession-id: 0000\r\n\r\n");

        Assert.DoesNotContain("session-id", forwarded, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void For_NothingConfigured_Null()
    {
        Assert.Null(HttpHeaderFields.For(HttpHeaderSettings.None, new HandshakeInfo(TlsVersion.Tls13, 0x1301, null, false, "b", null)));
    }

    private static string[] Lines(RequestHeaderInsertion insertion)
    {
        using var exchange = new HttpExchange(null, false, insertion);
        var forwarded = Http.HttpExchangeTests.Forward(exchange, "GET / HTTP/1.1\r\n\r\n");
        return forwarded["GET / HTTP/1.1\r\n".Length..^4].Split("\r\n");
    }
}
