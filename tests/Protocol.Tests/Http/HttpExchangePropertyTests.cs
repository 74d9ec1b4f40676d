using System.Buffers;
using System.Text;
using CsCheck;
using Xunit;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Tests.Config;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// For any keep-alive exchange of requests and responses, cut into reads anywhere on both sides, the client gets
/// exactly the responses with their matching Location values rewritten, the same as when everything comes in one read.
/// </summary>
public sealed class HttpExchangePropertyTests
{
    private enum Framing
    {
        ContentLength,
        Chunked,

        /// <summary>No length: the body runs to the close (only for the last response).</summary>
        Close,
    }

    private sealed record Exchange(string Method, bool Interim, int Status, int Location, Framing Framing, string Body, string RequestBody)
    {
        private static readonly string[] Locations = ["", "http://www.example.com/a?b", "http://other.org/", "/relative", "https://x.example.com/"];

        public bool HasBody => Method != "HEAD" && Status is not (204 or 304);

        public bool Rewritten => Location is 1 && Status is >= 300 and < 400;

        public string Request() => Method == "POST"
            ? $"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: {RequestBody.Length}\r\n\r\n{RequestBody}"
            : $"{Method} /p HTTP/1.1\r\nHost: h\r\n\r\n";

        public string Response(bool rewritten)
        {
            var o = new StringBuilder();
            if (Interim) o.Append("HTTP/1.1 100 Continue\r\n\r\n");
            o.Append("HTTP/1.1 ").Append(Status).Append(" Reason\r\nServer: s\r\n");
            if (Location > 0)
            {
                var value = rewritten && Rewritten ? "https" + Locations[Location][4..] : Locations[Location];
                o.Append("Location: ").Append(value).Append("\r\n");
            }
            switch (Framing)
            {
                case Framing.ContentLength:
                    o.Append("Content-Length: ").Append(Body.Length).Append("\r\n\r\n");
                    if (HasBody) o.Append(Body);
                    break;
                case Framing.Chunked:
                    o.Append("Transfer-Encoding: chunked\r\n\r\n");
                    if (!HasBody) break;
                    var half = Body.Length / 2;
                    foreach (var part in new[] { Body[..half], Body[half..] })
                    {
                        if (part.Length > 0) o.Append($"{part.Length:X};ext=1\r\n").Append(part).Append("\r\n");
                    }
                    o.Append("0\r\nTrailer-Field: Location: http://www.example.com/\r\n\r\n");
                    break;
                default:
                    o.Append("\r\n");
                    if (HasBody) o.Append(Body);
                    break;
            }
            return o.ToString();
        }
    }

    private static Gen<T> Pick<T>(params T[] items) => RoundTripPropertyTests.Pick(items);

    private static readonly Gen<string> GenBody =
        Pick("", "abc", "\r\n", "\r\n\r\n", "0\r\n\r\n", "Location: http://www.example.com/\r\n",
            "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\n\r\n", "GET / HTTP/1.1\r\n\r\n")
        .Array[0, 4].Select(string.Concat);

    private static readonly Gen<Exchange> GenExchange =
        from method in Pick("GET", "HEAD", "POST")
        from interim in Gen.Bool
        from status in Pick(200, 204, 301, 302, 303, 304, 307, 404)
        from location in Gen.Int[0, 4]
        from framing in Pick(Framing.ContentLength, Framing.Chunked)
        from body in GenBody
        from requestBody in GenBody
        select new Exchange(method, interim, status, location, framing, body, requestBody);

    private static readonly Gen<Exchange[]> GenConversation =
        from exchanges in GenExchange.Array[1, 6]
        from closeLast in Gen.Bool
        select closeLast
            ? [.. exchanges[..^1], exchanges[^1] with { Framing = Framing.Close }]
            : exchanges;

    /// <summary>Read sizes, used in turn until the data is all cut.</summary>
    private static readonly Gen<int[]> GenCuts = Gen.Int[1, 40].Array[1, 8];

    private static IEnumerable<byte[]> Cut(byte[] data, int[] sizes)
    {
        for (int at = 0, k = 0; at < data.Length; k++)
        {
            var n = Math.Min(sizes[k % sizes.Length], data.Length - at);
            yield return data[at..(at + n)];
            at += n;
        }
    }

    private static readonly UrlRewriter NoMatch = new([new SslCluster.Protocol.Config.UrlRewriteRule(1, "nothing.invalid")]);

    private static byte[] Run(UrlRewriter rules, byte[] requests, byte[] responses, int[] requestCuts, int[] responseCuts, out long rewrites)
    {
        using var rewriter = new HttpExchange(rules);
        var forwarded = new ArrayBufferWriter<byte>();
        foreach (var read in Cut(requests, requestCuts)) rewriter.ProcessRequest(read, forwarded);
        // Without http-reuse the requests reach the back end byte for byte, however they were cut.
        rewrites = -1;
        if (!forwarded.WrittenSpan.SequenceEqual(requests)) return [];
        var output = new ArrayBufferWriter<byte>();
        foreach (var read in Cut(responses, responseCuts)) rewriter.Process(read, output);
        rewriter.Complete(output);
        rewrites = rewriter.Rewrites;
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void Process_RandomReadCuts_SameOutputAsOneReadWithEveryMatchingLocationRewrittenAndNothingElse()
    {
        Gen.Select(GenConversation, GenCuts, GenCuts).Sample((conversation, requestCuts, responseCuts) =>
        {
            var requests = HttpExchangeTests.B(string.Concat(conversation.Select(e => e.Request())));
            var responses = HttpExchangeTests.B(string.Concat(conversation.Select(e => e.Response(rewritten: false))));
            var expected = HttpExchangeTests.B(string.Concat(conversation.Select(e => e.Response(rewritten: true))));

            var rules = HttpExchangeTests.Rules;
            var oneRead = Run(rules, requests, responses, [int.MaxValue], [int.MaxValue], out var rewrites);
            var cut = Run(rules, requests, responses, requestCuts, responseCuts, out var cutRewrites);
            var untouched = Run(NoMatch, requests, responses, requestCuts, responseCuts, out _);

            return oneRead.AsSpan().SequenceEqual(expected) && cut.AsSpan().SequenceEqual(oneRead) &&
                rewrites == conversation.Count(e => e.Rewritten) && cutRewrites == rewrites &&
                untouched.AsSpan().SequenceEqual(responses);
        }, iter: 2000, print: t => HttpExchangeTests.S(HttpExchangeTests.B(string.Concat(t.Item1.Select(e => e.Request() + " => " + e.Response(false))))));
    }

    /// <summary>The final response's head of <paramref name="response"/> with <c>Connection: close</c> added at its end.</summary>
    private static string WithClose(string response)
    {
        var final = response.StartsWith("HTTP/1.1 100 ", StringComparison.Ordinal) ? response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4 : 0;
        var headEnd = response.IndexOf("\r\n\r\n", final, StringComparison.Ordinal) + 2;
        return response[..headEnd] + "Connection: close\r\n" + response[headEnd..];
    }

    [Fact]
    public void ProcessRequest_HttpReuseRandomReadCuts_ClientsCloseAnsweredByUsAndTheConnectionKept()
    {
        Gen.Select(GenExchange.Array[1, 6], Gen.Bool, GenCuts, GenCuts).Sample((exchanges, close, requestCuts, responseCuts) =>
        {
            var requests = exchanges.Select(e => e.Request()).ToArray();
            var sent = close ? [.. requests[..^1], requests[^1].Replace("Host: h\r\n", "Host: h\r\nConnection: close\r\n", StringComparison.Ordinal)] : requests;
            var responses = exchanges.Select(e => e.Response(rewritten: false)).ToArray();
            var expected = close ? [.. responses[..^1], WithClose(responses[^1])] : responses;

            using var exchange = new HttpExchange(null, ownsBackendConnection: true);
            var forwarded = new ArrayBufferWriter<byte>();
            foreach (var read in Cut(HttpExchangeTests.B(string.Concat(sent)), requestCuts)) exchange.ProcessRequest(read, forwarded);
            var answered = new ArrayBufferWriter<byte>();
            foreach (var read in Cut(HttpExchangeTests.B(string.Concat(responses)), responseCuts)) exchange.Process(read, answered);
            var end = close ? RequestEnd.AwaitResponses : exchange.EndRequests();

            return HttpExchangeTests.S(forwarded.WrittenSpan) == string.Concat(requests) &&
                HttpExchangeTests.S(answered.WrittenSpan) == string.Concat(expected) &&
                exchange.ExchangeOver == close && (close || end == RequestEnd.Finished) && exchange.BackendReusable;
        }, iter: 2000, print: t => string.Concat(t.Item1.Select(e => e.Request() + " => " + e.Response(false))) + " close=" + t.Item2);
    }
}
