using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using SslCluster.Protocol.Demo;
using Xunit;

namespace SslCluster.Protocol.Tests.Demo;

// Not run in parallel with other tests: one test measures the process's allocations while streaming.
[CollectionDefinition(nameof(DemoHttpServerTests), DisableParallelization = true)]
public sealed class DemoHttpServerCollection;

[Collection(nameof(DemoHttpServerTests))]
public sealed class DemoHttpServerTests : IAsyncLifetime
{
    private DemoHttpServer _server = null!;

    private IPEndPoint EndPoint => _server.LocalEndPoint!;

    private string BaseUrl => $"http://127.0.0.1:{EndPoint.Port}";

    public async Task InitializeAsync()
    {
        _server = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Name = "alpha" });
        await _server.StartAsync();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task GetRoot_HttpClient_PageNamesTheServerAndEchoesRequestHeadersEncoded()
    {
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{BaseUrl}/");
        request.Headers.TryAddWithoutValidation("X-Inserted", "client <b>cert</b>");

        using var response = await client.SendAsync(request);
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("alpha", Assert.Single(response.Headers.GetValues("X-Backend-Name")));
        Assert.Contains("<h1>alpha</h1>", page, StringComparison.Ordinal);
        Assert.Contains("<tr><td>X-Inserted</td><td>client &lt;b&gt;cert&lt;/b&gt;</td></tr>", page, StringComparison.Ordinal);
        Assert.Contains($"<tr><td>Host</td><td>127.0.0.1:{EndPoint.Port}</td></tr>", page, StringComparison.Ordinal);
        Assert.Contains("GET / HTTP/1.1 from 127.0.0.1:", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetBytes_HttpClient_ExactlyNBytesOfTheRepeatingPattern()
    {
        using var client = new HttpClient();

        var body = await client.GetByteArrayAsync($"{BaseUrl}/bytes/300001");

        Assert.Equal(300001, body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            Assert.Equal((byte)i, body[i]);
        }
    }

    [Fact]
    public async Task GetSize_Curl_TextOfExactlyNBytesIn64ByteLines()
    {
        var path = Path.Combine(Path.GetTempPath(), $"demo-{Guid.NewGuid():N}.txt");
        try
        {
            var (exitCode, output) = await CurlAsync("-s", "-o", path, "-w", "%{http_code} %{content_type}", $"{BaseUrl}/size/100000");
            var text = await File.ReadAllTextAsync(path);

            Assert.Equal(0, exitCode);
            Assert.Equal("200 text/plain; charset=us-ascii", output);
            Assert.Equal(100000, text.Length);
            Assert.StartsWith("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n0123", text, StringComparison.Ordinal);
            Assert.All(text.Split('\n')[..^1], line => Assert.Equal(63, line.Length));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task GetBytes_HalfGigabyteToCurl_StreamedWithFlatMemory()
    {
        const long size = 512L * 1024 * 1024;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var (exitCode, output) = await CurlAsync("-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", $"{BaseUrl}/bytes/{size}");

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Assert.Equal(0, exitCode);
        Assert.Equal($"200 {size}", output);
        // Streaming reuses one shared chunk; what is allocated is per request, not per byte.
        Assert.True(allocated < 4 * 1024 * 1024, $"{allocated} bytes allocated while streaming {size} bytes");
    }

    [Fact]
    public async Task Head_LargestSize_ContentLengthIsFourGibibytesAndNoBody()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("HEAD /bytes/4294967296 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

        var response = await connection.ReadResponseAsync(head: true);

        Assert.Equal(200, response.Status);
        Assert.Equal("4294967296", response.Headers["Content-Length"]);
        Assert.Equal("close", response.Headers["Connection"]);
        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Theory]
    [InlineData("/bytes/4294967297")]
    [InlineData("/bytes/-1")]
    [InlineData("/size/12x")]
    [InlineData("/bytes/")]
    public async Task GetBytes_SizeOutOfRange_Returns400(string path)
    {
        using var client = new HttpClient();

        using var response = await client.GetAsync($"{BaseUrl}{path}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("400 Bad Request: N must be a whole number from 0 to 4294967296\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Pipelining_ThreeRequestsInOneWrite_AnsweredInOrderThenClosed()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync(
            "GET /size/10 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "HEAD /bytes/7 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "GET /bytes/5 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

        var first = await connection.ReadResponseAsync();
        var second = await connection.ReadResponseAsync(head: true);
        var third = await connection.ReadResponseAsync();

        Assert.Equal("0123456789", first.BodyText);
        Assert.Equal("7", second.Headers["Content-Length"]);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, third.Body);
        Assert.False(first.Headers.ContainsKey("Connection"));
        Assert.Equal("close", third.Headers["Connection"]);
        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(3, _server.RequestCount);
    }

    [Fact]
    public async Task Pipelining_RequestSplitAcrossWrites_ParsedWhole()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);

        await connection.SendAsync("GET /size/3 HT");
        await Task.Delay(50);
        await connection.SendAsync("TP/1.1\r\nHo");
        await Task.Delay(50);
        await connection.SendAsync("st: a\r\n\r\nGET /size/2 HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.Equal("012", (await connection.ReadResponseAsync()).BodyText);
        Assert.Equal("01", (await connection.ReadResponseAsync()).BodyText);
    }

    [Fact]
    public async Task KeepAlive_HttpClientFiveRequests_OneConnectionFiveRequests()
    {
        using var client = new HttpClient();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(10, (await client.GetByteArrayAsync($"{BaseUrl}/bytes/10")).Length);
        }

        Assert.Equal(1, _server.ConnectionCount);
        Assert.Equal(5, _server.RequestCount);
    }

    [Fact]
    public async Task Http10_WithoutKeepAlive_ClosedAfterResponse()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("GET /size/4 HTTP/1.0\r\n\r\n");

        var response = await connection.ReadResponseAsync();

        Assert.Equal("0123", response.BodyText);
        Assert.Equal("close", response.Headers["Connection"]);
        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Http10_WithKeepAlive_ConnectionStaysOpen()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("GET /size/4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /size/2 HTTP/1.0\r\n\r\n");

        var first = await connection.ReadResponseAsync();
        var second = await connection.ReadResponseAsync();

        Assert.Equal("keep-alive", first.Headers["Connection"]);
        Assert.Equal("01", second.BodyText);
        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task OversizedHead_Returns431AndCloses()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('a', 17 * 1024) + "\r\n\r\n");

        var response = await connection.ReadResponseAsync();

        Assert.Equal(431, response.Status);
        Assert.Equal("431 Request Header Fields Too Large: the request line and headers exceed 16384 bytes\n", response.BodyText);
        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task HeadJustUnderTheLimit_Accepted()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        var prefix = "GET /size/1 HTTP/1.1\r\nHost: a\r\nX-Big: ";
        await connection.SendAsync(prefix + new string('a', 16 * 1024 - prefix.Length - 4) + "\r\n\r\n");

        Assert.Equal(200, (await connection.ReadResponseAsync()).Status);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n", 400, "an HTTP/1.1 request needs a Host header")]
    [InlineData("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "a header name contains a character that is not allowed (whitespace before the colon?)")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "obsolete header line folding is not accepted")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, "bare CR or LF in a header line")]
    [InlineData("GET /\r\n\r\n", 400, "the request line is not 'METHOD target HTTP/1.x'")]
    [InlineData("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "only HTTP/1.0 and HTTP/1.1 are spoken here")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host header")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, "invalid or conflicting Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both Content-Length and Transfer-Encoding are present")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "request bodies with Transfer-Encoding are not accepted by the demo server")]
    public async Task MalformedRequest_ErrorStatusWithReasonThenClose(string request, int status, string reason)
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync(request);

        var response = await connection.ReadResponseAsync();

        Assert.Equal(status, response.Status);
        Assert.EndsWith($": {reason}\n", response.BodyText, StringComparison.Ordinal);
        Assert.Equal("close", response.Headers["Connection"]);
        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Post_WithBody_Returns405AndSkipsTheBodyForTheNextRequest()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello worldGET /size/3 HTTP/1.1\r\nHost: a\r\n\r\n");

        var rejected = await connection.ReadResponseAsync();
        var next = await connection.ReadResponseAsync();

        Assert.Equal(405, rejected.Status);
        Assert.Equal("GET, HEAD", rejected.Headers["Allow"]);
        Assert.Equal("012", next.BodyText);
    }

    [Fact]
    public async Task Redirect_AbsoluteUrl_302WithThatLocation()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });

        using var response = await client.GetAsync($"{BaseUrl}/redirect?to={Uri.EscapeDataString("https://www.example.com/a?b=c")}");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("https://www.example.com/a?b=c", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Redirect_Path_MadeAbsoluteWithTheHostHeader()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("GET /redirect?to=/bytes/10 HTTP/1.1\r\nHost: shop.example.com:8080\r\n\r\n");

        var response = await connection.ReadResponseAsync();

        Assert.Equal(302, response.Status);
        Assert.Equal("http://shop.example.com:8080/bytes/10", response.Headers["Location"]);
    }

    [Theory]
    [InlineData("/redirect", "give the target as /redirect?to=URL (an absolute http(s) URL or a path starting with /)")]
    [InlineData("/redirect?to=ftp%3A%2F%2Fx%2F", "the redirect target must be an absolute http(s) URL or a path starting with /")]
    [InlineData("/redirect?to=%2Fa%0D%0ASet-Cookie%3A%20x", "the redirect target contains a control character")]
    public async Task Redirect_BadTarget_Returns400(string path, string reason)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });

        using var response = await client.GetAsync($"{BaseUrl}{path}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($"400 Bad Request: {reason}\n", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task UnknownPath_Returns404()
    {
        using var client = new HttpClient();

        using var response = await client.GetAsync($"{BaseUrl}/nope");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task CurlHead_Root_HeadersWithContentLengthOfThePage()
    {
        var (exitCode, output) = await CurlAsync("-s", "-I", $"{BaseUrl}/");

        Assert.Equal(0, exitCode);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", output, StringComparison.Ordinal);
        Assert.Contains("X-Backend-Name: alpha\r\n", output, StringComparison.Ordinal);
        var length = output.Split("\r\n").Single(line => line.StartsWith("Content-Length: ", StringComparison.Ordinal));
        Assert.True(int.Parse(length["Content-Length: ".Length..], CultureInfo.InvariantCulture) > 100);
    }

    [Fact]
    public async Task IdleConnection_ClosedAfterIdleTimeout()
    {
        await using var server = new DemoHttpServer(new DemoHttpServerOptions
        {
            EndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            IdleTimeout = TimeSpan.FromMilliseconds(200),
        });
        await server.StartAsync();
        using var connection = await RawHttpConnection.OpenAsync(server.LocalEndPoint!);

        var stopwatch = Stopwatch.StartNew();
        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"closed after {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task StopAsync_OpenKeepAliveConnection_ClosedAndNoConnectionLeft()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("GET /size/1 HTTP/1.1\r\nHost: a\r\n\r\n");
        await connection.ReadResponseAsync();

        await _server.StopAsync();

        Assert.True(await connection.ServerClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, _server.OpenConnections);
    }

    [Fact]
    public async Task StopAsync_DuringAFourGibibyteDownload_EndsPromptly()
    {
        using var connection = await RawHttpConnection.OpenAsync(EndPoint);
        await connection.SendAsync("GET /bytes/4294967296 HTTP/1.1\r\nHost: a\r\n\r\n");
        await Task.Delay(100);

        var stopwatch = Stopwatch.StartNew();
        await _server.StopAsync().WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"stop took {stopwatch.Elapsed}");
        Assert.Equal(0, _server.OpenConnections);
    }

    [Fact]
    public void Constructor_NonLoopbackAddress_ThrowsSayingLoopbackOnly()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Any, 0) }));

        Assert.StartsWith("the demo server listens on loopback only, not on 0.0.0.0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_Twice_Throws()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => _server.StartAsync());
    }

    private static async Task<(int ExitCode, string Output)> CurlAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await error);
    }
}
