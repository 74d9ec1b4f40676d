using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using SslCluster.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace SslCluster.Integration.Tests;

/// <summary>
/// The SSLM face at the size users run, on three real nodes: 1,000 server proxy services in 10 contexts (each its own
/// module, listener and header policy), configured in one text through node 1. Every node serves the first and the
/// last service with the policy's headers, and the statistics commands answer over the whole cluster.
/// </summary>
[Collection("nodes")]
public sealed partial class SslmScaleTests(ITestOutputHelper output)
{
    private const int Services = 1_000;
    private const int Contexts = 10;

    [Fact]
    public async Task ThousandProxyServicesInTenContexts_EveryNodeServesThemAndTheStatisticsAnswer()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync();
        var node1 = cluster.Nodes[0]!;
        // Distinct free ports: a probe may be given a port an earlier probe was given and released.
        var ports = new List<int>();
        var seen = new HashSet<int> { cluster.HttpsPort, cluster.BackendPort };
        while (ports.Count < Services)
        {
            var port = NodeProcess.FreePort();
            if (seen.Add(port)) ports.Add(port);
        }

        var text = new StringBuilder("crypto pki trustpoint web\n rsakeypair k.key\ncrypto pki certificate chain web\n certificate 01 nvram:c.pem\n");
        for (var c = 0; c < Contexts; c++)
        {
            text.Append(CultureInfo.InvariantCulture, $"ssl-proxy context ctx{c}\n maxconns 10000\n policy http-header hp\n  custom \"X-Context:ctx{c}\"\n  session\n");
            for (var s = c; s < Services; s += Contexts)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $" service s{s}\n  virtual ipaddr 127.0.0.1 protocol tcp port {ports[s]}\n  server ipaddr 127.0.0.9 protocol tcp port {cluster.BackendPort}\n  certificate rsa general-purpose trustpoint web\n  policy http-header hp\n  inservice\n");
            }
        }

        var clock = Stopwatch.StartNew();
        var configure = await node1.CtlWithInputAsync(text.ToString(), "configure", "-");
        Assert.True(configure.ExitCode == 0, configure.ToString());
        foreach (var n in cluster.Running) await n.WaitReadyAsync(TimeSpan.FromSeconds(120));
        var configured = clock.Elapsed;

        // Every node serves the first and the last service, each with its context's policy.
        for (var i = 1; i <= 3; i++)
        {
            foreach (var s in new[] { 0, Services - 1 })
            {
                var page = await OpenSslClient.CurlAsync($"-k https://127.0.0.{i}:{ports[s]}/");
                Assert.True(page.ExitCode == 0 && page.StandardOutput.Contains("cluster backend", StringComparison.Ordinal), $"node {i}, service s{s}: {page.AllOutput}");
                Assert.Contains($"<td>X-Context</td><td>ctx{s % Contexts}</td>", page.StandardOutput, StringComparison.Ordinal);
                Assert.Contains("<td>Session-Cipher-Name</td>", page.StandardOutput, StringComparison.Ordinal);
            }
        }

        // The statistics over 1,000 modules on three nodes, asked of node 3: the six connections above are counted.
        clock.Restart();
        var list = await cluster.Nodes[2]!.CtlAsync("show", "ssl-proxy", "service");
        var listed = clock.Elapsed;
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal(Services, list.Stdout.Split('\n').Count(l => ServiceRow().IsMatch(l)));
        string stats = "";
        clock.Restart();
        for (var attempt = 0; attempt < 50 && !Regex.IsMatch(stats, @"conns accepted\s+: 6\b"); attempt++)
        {
            if (attempt > 0) await Task.Delay(200);
            var r = await cluster.Nodes[2]!.CtlAsync("show", "ssl-proxy", "stats", "tcp");
            Assert.True(r.ExitCode == 0, r.ToString());
            stats = r.Stdout;
        }
        Assert.Matches(@"conns accepted\s+: 6\b", stats);
        Assert.Contains("summed over 3 nodes", stats, StringComparison.Ordinal);

        output.WriteLine(FormattableString.Invariant(
            $"configured {Services} SSLM services in {Contexts} contexts ({text.Length:N0} characters), in force on 3 nodes in {configured.TotalSeconds:0.0} s; show ssl-proxy service listed them in {listed.TotalMilliseconds:0} ms"));
    }

    [GeneratedRegex(@"^s\d+\s+ctx\d\s+server\s+127\.0\.0\.1:\d+\s+127\.0\.0\.9:\d+\s+up\s+\d+$")]
    private static partial Regex ServiceRow();
}
