using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SslCluster.Protocol.Admin;
using Xunit;
using Xunit.Abstractions;

namespace SslCluster.Integration.Tests;

/// <summary>
/// The configuration at the size users run, on three real nodes: 1,000 key and certificate pairs imported through
/// node 1, 1,000 ssl-servers in four proxy lists (the reference's maximum of 255 on one VIP, chosen by SNI), and every
/// node serves the last one. A small change afterwards is in force on every node in proportion to the change.
/// </summary>
[Collection("nodes")]
public sealed class ConfigScaleTests(ITestOutputHelper output)
{
    private const int Pairs = 1_000;
    private const int PerList = 255;

    /// <summary>A self-signed ECDSA P-256 certificate for site{i}.example.test and its key, in one PEM file.</summary>
    private static string WritePair(string folder, int i)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=site{i}.example.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName($"site{i}.example.test");
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(365));
        var path = Path.Combine(folder, $"site{i}.pem");
        File.WriteAllText(path, key.ExportPkcs8PrivateKeyPem() + "\n" + cert.ExportCertificatePem() + "\n");
        return path;
    }

    /// <summary>The subject of the certificate the VIP presents for <paramref name="sni"/>.</summary>
    private static async Task<string> SubjectForAsync(IPAddress address, int port, string sni)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address, port);
        X509Certificate? seen = null;
        await using var tls = new SslStream(tcp.GetStream(), false, (_, c, _, _) =>
        {
            seen = c is null ? null : X509CertificateLoader.LoadCertificate(c.GetRawCertData());
            return true;
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = sni }, cts.Token);
        return seen?.Subject ?? "";
    }

    private static int ListOf(int i) => i / PerList;

    private static string Configuration(int from, int to, IReadOnlyList<int> ports)
    {
        var o = new StringBuilder();
        for (var i = from; i < to; i++) o.Append(CultureInfo.InvariantCulture, $"ssl associate ecdsakey k{i} site{i}-key\nssl associate cert c{i} site{i}-cert\n");
        for (var i = from; i < to; i++)
        {
            var n = i % PerList + 1;
            o.Append(CultureInfo.InvariantCulture, $"ssl-proxy-list l{ListOf(i)}\n  ssl-server {n}\n  ssl-server {n} ecdsakey k{i}\n  ssl-server {n} ecdsacert c{i}\n");
            o.Append(CultureInfo.InvariantCulture, $"  ssl-server {n} vip address 127.0.0.1\n  ssl-server {n} port {ports[ListOf(i)]}\n  ssl-server {n} cipher ecdhe-ecdsa-with-aes-128-gcm-sha256 127.0.0.9 80\n  active\n");
        }
        return o.ToString();
    }

    [Fact]
    public async Task ThousandPairsOnThreeNodes_EveryNodeServesTheLastOne_AndASmallChangeIsInForceEverywhere()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        var node1 = cluster.Nodes[0]!;
        var folder = Directory.CreateTempSubdirectory("sslcluster-pairs-").FullName;
        var lists = (Pairs + PerList - 1) / PerList;
        var ports = Enumerable.Range(0, lists).Select(_ => NodeProcess.FreePort()).ToList();

        // 1,000 pairs imported through node 1, four at a time, as sslctl does it (the admin endpoint's ssl command).
        var clock = Stopwatch.StartNew();
        var paths = Enumerable.Range(0, Pairs + 1).Select(i => WritePair(folder, i)).ToList();
        await Parallel.ForEachAsync(Enumerable.Range(0, Pairs + 1), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
        {
            var (status, body) = await node1.AdminPostAsync(AdminPaths.SslCommand,
                new SslCommandRequest(["copy", "ssl", "file:" + paths[i], "import", $"site{i}", "pem", $"pw-{i}"]));
            Assert.True(status == HttpStatusCode.OK, $"import of pair {i}: {(int)status} {body}");
        });
        var imported = clock.Elapsed;

        // The modules and rules of the four lists, then every ssl-server in one configure through sslctl.
        var text = new StringBuilder(Configuration(0, Pairs, ports));
        for (var l = 0; l < lists; l++)
            text.Append(CultureInfo.InvariantCulture, $"service m{l}\n  type ssl-accel\n  add ssl-proxy-list l{l}\n  active\nowner o\n  content r{l}\n    vip address 127.0.0.1\n    port {ports[l]}\n    add service m{l}\n    active\n");
        Assert.True(text.Length > 200_000, $"{text.Length} characters");
        clock.Restart();
        var configure = await node1.CtlWithInputAsync(text.ToString(), "configure", "-");
        Assert.True(configure.ExitCode == 0, configure.ToString());
        foreach (var n in cluster.Running) await n.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var configured = clock.Elapsed;

        // Every node serves the last ssl-server (SNI picks it among the 235 of its VIP) and the first of the full list.
        for (var i = 1; i <= 3; i++)
        {
            var address = IPAddress.Parse($"127.0.0.{i}");
            Assert.Equal($"CN=site{Pairs - 1}.example.test", await SubjectForAsync(address, ports[ListOf(Pairs - 1)], $"site{Pairs - 1}.example.test"));
            Assert.Equal("CN=site200.example.test", await SubjectForAsync(address, ports[0], "site200.example.test"));
        }

        // Each node answers what the store holds, from its own copy: every file, the whole configuration, its revision.
        var node3 = cluster.Nodes[2]!;
        var files = await node3.CtlAsync("show", "ssl", "files");
        Assert.True(files.ExitCode == 0, files.ToString());
        Assert.Equal(2 * (Pairs + 1), files.Stdout.Split('\n').Count(l => l.Contains("site", StringComparison.Ordinal)));
        var running = await node3.CtlAsync("show", "running-config");
        Assert.Contains($"ssl associate cert c{Pairs - 1} site{Pairs - 1}-cert", running.Stdout, StringComparison.Ordinal);
        var show = await node1.CtlAsync("cluster", "show");
        var revisions = show.Stdout.Split('\n').Where(l => l.Contains(" Up", StringComparison.Ordinal)).Select(l => l.Split("revision ")[1].Split(' ')[0]).Distinct().ToList();
        Assert.True(revisions.Count == 1, show.Stdout);

        // One more ssl-server through node 2: in force (served) on every node, the other listeners untouched.
        clock.Restart();
        var extra = await cluster.Nodes[1]!.CtlWithInputAsync(Configuration(Pairs, Pairs + 1, ports), "configure", "-");
        Assert.True(extra.ExitCode == 0, extra.ToString());
        var committed = clock.Elapsed;
        var inForce = new TimeSpan[3];
        for (var i = 1; i <= 3; i++)
        {
            var address = IPAddress.Parse($"127.0.0.{i}");
            while (await SubjectForAsync(address, ports[ListOf(Pairs)], $"site{Pairs}.example.test") != $"CN=site{Pairs}.example.test")
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"node {i} does not serve site{Pairs} after 30 s");
                await Task.Delay(20);
            }
            inForce[i - 1] = clock.Elapsed;
        }
        foreach (var n in cluster.Running)
            Assert.Contains($"{lists} listener(s), {lists - 1} of them unchanged (3 section(s) and file(s) changed", n.Output, StringComparison.Ordinal);

        output.WriteLine(FormattableString.Invariant(
            $"imported {2 * (Pairs + 1)} files in {imported.TotalSeconds:0.0} s; configured {Pairs} ssl-servers ({text.Length:N0} characters) in force on 3 nodes in {configured.TotalSeconds:0.0} s"));
        output.WriteLine(FormattableString.Invariant(
            $"one more ssl-server: committed in {committed.TotalMilliseconds:0} ms, served by node 1/2/3 after {inForce[0].TotalMilliseconds:0}/{inForce[1].TotalMilliseconds:0}/{inForce[2].TotalMilliseconds:0} ms"));
        Directory.Delete(folder, recursive: true);
    }
}
