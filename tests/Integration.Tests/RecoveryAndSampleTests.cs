using System.Globalization;
using System.Net;
using SslCluster.Protocol.Demo;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

[Collection("nodes")]
public sealed class RecoveryAndSampleTests
{
    private static Task<ProcessResult> Curl(params string[] args) =>
        Run.ProcessAsync("curl", ["-sS", "-k", "--max-time", "60", .. args], null, TimeSpan.FromSeconds(90));

    private static string Sample(string name) => File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "Protocol.Tests", "Config", "Samples", name));

    private static Task MakeKeyAsync(NodeProcess node, string association, string certAssociation, string cn) =>
        node.MakeKeyAsync(association, certAssociation, cn);

    private static void Ok(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public async Task KillDashNine_ThenRestart_BringsBackTheSameConfigurationKeysAndService()
    {
        var dataDir = NodeProcess.NewDataDir();
        var https = NodeProcess.FreePort();
        var backendPort = NodeProcess.FreePort();
        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, backendPort), Name = "recovery backend" });
        await backend.StartAsync();
        string config, files;
        using (var node = await NodeProcess.StartAsync(dataDir))
        {
            await MakeKeyAsync(node, "k1", "c1", "localhost");
            Ok(await node.CtlWithInputAsync(NodeProcess.OneVip(https, backendPort, "k1", "c1"), "configure", "-"));
            await node.WaitReadyAsync(TimeSpan.FromSeconds(10));
            Ok(await Curl($"https://127.0.0.1:{https}/"));
            config = (await node.CtlAsync("show", "running-config")).Stdout;
            files = (await node.CtlAsync("show", "ssl", "files")).Stdout;
            node.Kill(); // SIGKILL: no shutdown hook, no flush
        }

        using var again = await NodeProcess.StartAsync(dataDir);
        var configAfter = await again.CtlAsync("show", "running-config");
        var filesAfter = await again.CtlAsync("show", "ssl", "files");

        Assert.Equal(config, configAfter.Stdout);
        Assert.Equal(files, filesAfter.Stdout);
        var r = await Curl($"https://127.0.0.1:{https}/");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("recovery backend", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JournalAndKeys_AtRest_HoldNoPrivateKeyInClear()
    {
        var dataDir = NodeProcess.NewDataDir();
        using (var node = await NodeProcess.StartAsync(dataDir))
        {
            Ok(await node.CtlAsync("ssl", "genrsa", "secret.key", "2048", "pw"));
            Ok(await node.CtlAsync("copy", "ssl", $"file:{dataDir}/exported.pem", "export", "secret.key", "pem", "pw"));
            await node.TerminateAsync(TimeSpan.FromSeconds(30));
        }
        var exported = await File.ReadAllTextAsync(Path.Combine(dataDir, "exported.pem"));
        Assert.Contains("BEGIN ENCRYPTED PRIVATE KEY", exported, StringComparison.Ordinal);

        // Decrypt the exported key with openssl, then look for its private bytes in every file of the data folder.
        var der = await Run.ProcessAsync("openssl", ["pkey", "-in", Path.Combine(dataDir, "exported.pem"), "-passin", "pass:pw"], null, TimeSpan.FromSeconds(30));
        Assert.True(der.ExitCode == 0, der.ToString());
        var pkcs8 = Convert.FromBase64String(string.Concat(der.Stdout.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal))));
        var probe = pkcs8.AsSpan(pkcs8.Length - 64, 32).ToArray(); // a run of private-key bytes
        foreach (var file in Directory.GetFiles(dataDir).Where(f => !f.EndsWith("exported.pem", StringComparison.Ordinal)))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.True(bytes.AsSpan().IndexOf(probe) < 0, $"{file} holds private key bytes in clear");
        }
    }

    [Fact]
    public async Task SslFlowSample_WithAddressMap_TerminatesTlsOnTheMappedVip()
    {
        // The reference's first sample: VIP 10.87.99.78:443, clear text to the content rule 192.191.134.165:85,
        // whose services are the backend-servers' clear-text pick-up points 192.191.134.170/171:86; the
        // backend-servers re-encrypt to the real servers' HTTPS (server-port 443). Mapped onto loopback
        // (127.87.99.78 and so on); real TLS servers listen where the reference's real servers are.
        var dataDir = NodeProcess.NewDataDir();
        using var cert = TestCertificates.CreateRsa("real-server");
        using var x509 = cert.ToX509WithKey();
        await using var s1 = new TlsHttpBackend(IPAddress.Parse("127.191.134.170"), x509, "real server 170", new TlsHttpBackendOptions { Port = 443 });
        await using var s2 = new TlsHttpBackend(IPAddress.Parse("127.191.134.171"), x509, "real server 171", new TlsHttpBackendOptions { Port = 443 });
        using var node = await NodeProcess.StartAsync(dataDir, "--address-map", "private-to-loopback");
        await MakeKeyAsync(node, "mykeypair", "mycert", "www.example.com");

        var applied = await node.CtlWithInputAsync(Sample("ssl-flow.cfg"), "configure", "-");

        Assert.True(applied.ExitCode == 0, applied.ToString());
        Assert.Contains("warning: line 10: 'rsa-with-rc4-128-md5': cipher 'rsa-with-rc4-128-md5' is RC4", applied.Stdout, StringComparison.Ordinal);
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));
        var seen = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            var r = await Curl("--resolve", "www.example.com:443:127.87.99.78", "https://www.example.com/");
            Assert.True(r.ExitCode == 0, r.ToString());
            seen.Add(r.Stdout.Contains("hello from real server 170", StringComparison.Ordinal) ? "170" : "171");
        }
        Assert.Equal(["170", "171"], seen.Order());
        // Counters reach the module entity once per report interval (1 s).
        ProcessResult flows = null!;
        for (var i = 0; i < 20; i++)
        {
            flows = await node.CtlAsync("show", "ssl", "flows");
            if (System.Text.RegularExpressions.Regex.IsMatch(flows.Stdout, @"10\.87\.99\.78\s+443\s+0\s+0\s+0") &&
                System.Text.RegularExpressions.Regex.IsMatch(flows.Stdout, @"192\.191\.134\.171\s+86\s+0\s+0\s+0")) break;
            await Task.Delay(250);
        }
        Assert.Contains("SSL Acceleration Flows for slot 2 (module sslmod)", flows.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"10\.87\.99\.78\s+443\s+0\s+0\s+0", flows.Stdout);
        // The back-end legs are counted under the module that decrypted them, by backend-server (ip address, port).
        Assert.Matches(@"192\.191\.134\.170\s+86\s+0\s+0\s+0", flows.Stdout);
        Assert.Matches(@"192\.191\.134\.171\s+86\s+0\s+0\s+0", flows.Stdout);
        Assert.Equal(6, s1.Handshakes + s2.Handshakes > 0 ? s1.Requests + s2.Requests : -1);
    }

    [Fact]
    public async Task OneGibibyteDownload_CompletesInBoundedNodeMemory()
    {
        var dataDir = NodeProcess.NewDataDir();
        var https = NodeProcess.FreePort();
        using var node = await NodeProcess.StartAsync(dataDir, "--demo",
            "--set", $"sslcluster.node.demo.https-port={https}",
            "--set", $"sslcluster.node.demo.http-port={NodeProcess.FreePort()}",
            "--set", $"sslcluster.node.demo.backend-port={NodeProcess.FreePort()}");
        for (var i = 0; i < 100 && !node.Output.Contains("Demo is up", StringComparison.Ordinal); i++) await Task.Delay(100);
        await node.WaitReadyAsync(TimeSpan.FromSeconds(30));
        Ok(await Curl("-o", "/dev/null", $"https://127.0.0.1:{https}/bytes/1048576")); // warm up
        var before = ResidentBytes(node.Pid);

        var r = await Curl("-o", "/dev/null", "-w", "%{size_download}", $"https://127.0.0.1:{https}/bytes/1073741824");
        var after = ResidentBytes(node.Pid);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("1073741824", r.Stdout.Trim());
        // The node holds the bundled backend too; both stream through fixed buffers, so 1 GiB costs far less than 1 GiB.
        Assert.True(after - before < 128L * 1024 * 1024, $"resident memory grew by {(after - before) / 1048576} MiB during a 1 GiB transfer");
    }

    private static long ResidentBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException("no VmRSS");
    }
}
