using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>One row of <c>show ssl flows</c>.</summary>
public sealed record FlowRowText(string Virtual, int Port, long Tcp, long Active, long Handshaking);

/// <summary>
/// What the back-end SSL and SSL initiation tests share: bounded curl runs, free ports on a given loopback address,
/// imports of test PEM files, and reading the rows of <c>show ssl flows</c> under one module.
/// </summary>
public static class BackendTestKit
{
    /// <summary>No client run may take longer than this.</summary>
    public const int CurlSeconds = 10;

    public static Task<ProcessResult> Curl(params string[] args) =>
        Run.ProcessAsync("curl", ["-sS", "-k", "--max-time", CurlSeconds.ToString(CultureInfo.InvariantCulture), .. args], null, TimeSpan.FromSeconds(CurlSeconds + 10));

    /// <summary>curl with the response head in the output (<c>-i</c>), and how long it took.</summary>
    public static async Task<(ProcessResult Result, TimeSpan Elapsed)> TimedCurl(params string[] args)
    {
        var watch = Stopwatch.StartNew();
        var r = await Curl(["-i", .. args]);
        return (r, watch.Elapsed);
    }

    public static void Ok(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    /// <summary>The value of response header <paramref name="name"/> in curl -i output, or null.</summary>
    public static string? Header(string response, string name) =>
        response.Split('\n').Select(l => l.TrimEnd('\r'))
            .FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim();

    /// <summary>A port free on <paramref name="address"/> (a 127.x address of a mapped reference sample).</summary>
    public static int FreePort(string address) => Ports.Free(address);

    /// <summary>The reference's form of a loopback address under <c>private-to-loopback</c>: 127.a.b.c as 192.a.b.c.</summary>
    public static string Configured(IPAddress loopback, string firstOctet = "192") =>
        firstOctet + loopback.ToString()[loopback.ToString().IndexOf('.', StringComparison.Ordinal)..];

    /// <summary><c>copy ssl file:PATH import NAME pem "PASSWORD"</c>, as an operator would.</summary>
    public static async Task ImportAsync(NodeProcess node, string path, string name) =>
        Ok(await node.CtlAsync("copy", "ssl", "file:" + path, "import", name, "pem", "pw-" + name));

    public static async Task ConfigureAsync(NodeProcess node, string text) => Ok(await node.CtlWithInputAsync(text, "configure", "-"));

    /// <summary>The rows printed under the section whose title starts with <paramref name="title"/>.</summary>
    public static IReadOnlyList<FlowRowText> Rows(string flows, string title)
    {
        var rows = new List<FlowRowText>();
        var lines = flows.Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith(title, StringComparison.Ordinal));
        if (start < 0) return rows;
        foreach (var line in lines.Skip(start + 1).SkipWhile(l => l.Trim().Length == 0).Skip(1))
        {
            if (line.Trim().Length == 0) break;
            var c = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            rows.Add(new FlowRowText(c[0], int.Parse(c[1], CultureInfo.InvariantCulture), long.Parse(c[2], CultureInfo.InvariantCulture),
                long.Parse(c[3], CultureInfo.InvariantCulture), long.Parse(c[4], CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    /// <summary>
    /// Polls <c>show ssl flows</c> (counters reach the module once per report interval) until the rows of section
    /// <paramref name="title"/> satisfy <paramref name="condition"/>; fails with the last output after 15 s.
    /// </summary>
    public static async Task<IReadOnlyList<FlowRowText>> WaitForRowsAsync(NodeProcess node, string title, Func<IReadOnlyList<FlowRowText>, bool> condition)
    {
        var last = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            var r = await node.CtlAsync("show", "ssl", "flows");
            Ok(r);
            last = r.Stdout;
            var rows = Rows(r.Stdout, title);
            if (condition(rows)) return rows;
            await Task.Delay(200);
        }
        throw new Xunit.Sdk.XunitException($"show ssl flows never showed the expected rows under '{title}'; last output:\n{last}");
    }

    public static FlowRowText? Row(IReadOnlyList<FlowRowText> rows, string virtualAddress, int port) =>
        rows.FirstOrDefault(r => r.Virtual == virtualAddress && r.Port == port);

    /// <summary>
    /// Sends one keep-alive GET over <paramref name="stream"/> and reads until the answer's body (which ends with a
    /// newline after <paramref name="until"/>) has arrived; the connection stays open.
    /// </summary>
    public static async Task<string> KeepAliveGetAsync(Stream stream, string path = "/", string until = "hello from")
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: www.example.com\r\n\r\n"));
        var text = new StringBuilder();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(CurlSeconds));
        while (!(text.ToString().Contains(until, StringComparison.Ordinal) && text.ToString().EndsWith('\n')))
        {
            var n = await stream.ReadAsync(buffer, cts.Token);
            if (n == 0) break;
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return text.ToString();
    }
}
