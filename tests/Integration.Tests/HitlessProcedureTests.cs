using System.Net;
using System.Text.RegularExpressions;
using SslCluster.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace SslCluster.Integration.Tests;

/// <summary>
/// The reference's two procedures ("Making Changes to SSL Configuration without Disrupting Services"), run on its
/// base configuration under a bounded client load, with real TLS servers where its real servers are (10.10.20.111
/// and 10.10.20.222 on 443, mapped to 127.10.20.x). Zero failed requests is the assertion.
/// </summary>
[Collection("nodes")]
public sealed class HitlessProcedureTests(ITestOutputHelper output)
{
    private static readonly Uri Vip = new("https://127.18.87.100/");

    private static string Sample(string name) => File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "Protocol.Tests", "Config", "Samples", name));

    private static void Ok(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static async Task<(NodeProcess Node, TlsHttpBackend S111, TlsHttpBackend S222, TestCertificate Cert)> StartBaseAsync()
    {
        var cert = TestCertificates.CreateRsa("real-server");
        var x509 = cert.ToX509WithKey();
        var s111 = new TlsHttpBackend(IPAddress.Parse("127.10.20.111"), x509, "real 111", new TlsHttpBackendOptions { Port = 443 });
        var s222 = new TlsHttpBackend(IPAddress.Parse("127.10.20.222"), x509, "real 222", new TlsHttpBackendOptions { Port = 443 });
        var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), "--address-map", "private-to-loopback");
        await node.MakeKeyAsync("zakrsa", "zak-cert-ass", "www.example.com");
        Ok(await node.CtlWithInputAsync(Sample("hitless-base.cfg"), "configure", "-"));
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));
        return (node, s111, s222, cert);
    }

    /// <summary>Polls show ssl flows until <paramref name="done"/> holds for its text (bounded), and returns it.</summary>
    private static async Task<string> FlowsUntilAsync(NodeProcess node, Func<string, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string text;
        do
        {
            var r = await node.CtlAsync("show", "ssl", "flows");
            Ok(r);
            text = r.Stdout;
            if (done(text)) return text;
            await Task.Delay(300);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException("show ssl flows never reached the expected state:\n" + text);
    }

    /// <summary>Flows a module accepted since start, summed over its rows (from the admin JSON behind show ssl flows).</summary>
    private static async Task<long> AcceptedAsync(NodeProcess node, string module)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await node.AdminGetAsync(SslCluster.Protocol.Admin.AdminPaths.SslFlows));
        var total = 0L;
        foreach (var m in doc.RootElement.GetProperty("modules").EnumerateArray())
        {
            if (m.GetProperty("module").GetString() != module) continue;
            foreach (var row in m.GetProperty("rows").EnumerateArray())
                if (row.GetProperty("port").GetInt32() == 443) total += row.GetProperty("accepted").GetInt64();
        }
        return total;
    }

    private static bool HasRow(string flows, string vip, int port) => Regex.IsMatch(flows, $@"(?m)^{Regex.Escape(vip)}\s+{port}\s");

    [Fact]
    public async Task BackendChangeProcedure_UnderLoad_NoFailedRequestAndFlowsMoveToTheNewPort()
    {
        var (node, s111, s222, cert) = await StartBaseAsync();
        using var _ = node;
        using var __ = cert;
        await using var ___ = s111;
        await using var ____ = s222;
        await using var load = new ClientLoad(Vip, workers: 4, TimeSpan.FromSeconds(90), maxRequests: 20_000);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));
        await FlowsUntilAsync(node, f => HasRow(f, "10.10.20.111", 85) && HasRow(f, "10.10.20.222", 85), TimeSpan.FromSeconds(10));

        // 1. A duplicate back-end proxy list on port 86 with the new cipher, duplicate services, added to HTTP-VIP.
        Ok(await node.CtlWithInputAsync("""
            ssl-proxy-list backend2
              backend-server 111
              backend-server 111 ip address 10.10.20.111
              backend-server 111 server-ip 10.10.20.111
              backend-server 111 cipher rsa-with-rc4-128-sha
              backend-server 111 port 86
              backend-server 222
              backend-server 222 ip address 10.10.20.222
              backend-server 222 port 86
              backend-server 222 server-ip 10.10.20.222
              backend-server 222 cipher rsa-with-rc4-128-sha
              active
            service backendssl-scv1-bak
              type ssl-accel-backend
              ip address 10.10.20.111
              port 86
              keepalive type ssl
              keepalive port 443
              add ssl-proxy-list backend2
              active
            service backendssl-scv2-bak
              ip address 10.10.20.222
              port 86
              type ssl-accel-backend
              keepalive port 443
              keepalive type ssl
              add ssl-proxy-list backend2
              active
            owner www.testbackendsssl.com
              content HTTP-VIP
                add service backendssl-scv1-bak
                add service backendssl-scv2-bak
            """, "configure", "-"));
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));
        await FlowsUntilAsync(node, f => HasRow(f, "10.10.20.111", 86) && HasRow(f, "10.10.20.222", 86), TimeSpan.FromSeconds(10));

        // 2. Weight 0 on the old services: no new flows on port 85; live ones finish.
        Ok(await node.CtlWithInputAsync("service backendssl-scv1\n  weight 0\nservice backendssl-scv2\n  weight 0\n", "configure", "-"));
        await FlowsUntilAsync(node, f => Regex.IsMatch(f, @"(?m)^10\.10\.20\.111\s+85\s+0\s+0\s+0") && Regex.IsMatch(f, @"(?m)^10\.10\.20\.222\s+85\s+0\s+0\s+0"), TimeSpan.FromSeconds(20));
        var before111 = s111.Handshakes + s222.Handshakes;
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));

        // 3. Remove the old services from HTTP-VIP, suspend and delete them and the old list.
        Ok(await node.CtlWithInputAsync("""
            owner www.testbackendsssl.com
              content HTTP-VIP
                remove service backendssl-scv1
                remove service backendssl-scv2
            service backendssl-scv1
              suspend
            service backendssl-scv2
              suspend
            ssl-proxy-list backend
              suspend
            no service backendssl-scv1
            no service backendssl-scv2
            no ssl-proxy-list backend
            """, "configure", "-"));
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));
        await load.DisposeAsync();

        Assert.True(load.Failures.IsEmpty, $"{load.Failures.Count} failed requests of {load.Succeeded + load.Failures.Count}: {string.Join(" | ", load.Failures.Take(10))}");
        Assert.True(s111.Handshakes + s222.Handshakes > before111, "the real servers saw no new TLS connections after the change");
        Assert.Equal(2, load.AnsweredBy.Count);
        output.WriteLine($"back-end procedure: {load.Succeeded} requests, 0 failed; answered by {string.Join(", ", load.AnsweredBy.Select(a => $"{a.Key}: {a.Value}"))}");
        var running = await node.CtlAsync("show", "running-config");
        Assert.DoesNotContain("ssl-proxy-list backend\n", running.Stdout, StringComparison.Ordinal);
        Assert.Contains("ssl-proxy-list backend2", running.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FrontEndChangeProcedure_TwoModules_NoFailedRequestAndBothModulesServeAgain()
    {
        var (node, s111, s222, cert) = await StartBaseAsync();
        using var _ = node;
        using var __ = cert;
        await using var ___ = s111;
        await using var ____ = s222;
        await using var load = new ClientLoad(Vip, workers: 4, TimeSpan.FromSeconds(90), maxRequests: 20_000);
        await load.WaitForMoreAsync(40, TimeSpan.FromSeconds(30));

        // 1. A duplicate front-end list with the change (another cipher on the same destination).
        Ok(await node.CtlWithInputAsync("""
            ssl-proxy-list frontend2
              ssl-server 100
              ssl-server 100 rsakey zakrsa
              ssl-server 100 rsacert zak-cert-ass
              ssl-server 100 vip address 172.18.87.100
              ssl-server 100 cipher rsa-with-rc4-128-sha 172.18.87.100 9999
              active
            """, "configure", "-"));
        await load.WaitForMoreAsync(20, TimeSpan.FromSeconds(30));

        // 2. Weight 0 on module ssl3: it takes no new flows; wait until its live ones are gone.
        Ok(await node.CtlWithInputAsync("service ssl3\n  weight 0\n", "configure", "-"));
        await FlowsUntilAsync(node, f => Regex.IsMatch(f, @"slot 3 \(module ssl3\)\s+Virtual.*\n172\.18\.87\.100\s+443\s+0\s+0\s+0", RegexOptions.Singleline), TimeSpan.FromSeconds(20));
        await load.WaitForMoreAsync(20, TimeSpan.FromSeconds(30));

        var ssl3Before = await AcceptedAsync(node, "ssl3");

        // 3. Reassign its proxy list, remove weight 0, activate.
        Ok(await node.CtlWithInputAsync("""
            service ssl3
              suspend
              remove ssl-proxy-list frontend
              add ssl-proxy-list frontend2
              weight 1
              active
            """, "configure", "-"));
        await load.WaitForMoreAsync(60, TimeSpan.FromSeconds(30));
        // Counters reach the module entity once per report interval: poll (bounded) for ssl3's new flows.
        var ssl3After = ssl3Before;
        for (var i = 0; i < 40 && ssl3After <= ssl3Before; i++)
        {
            await Task.Delay(250);
            ssl3After = await AcceptedAsync(node, "ssl3");
        }
        await load.DisposeAsync();

        Assert.True(load.Failures.IsEmpty, $"{load.Failures.Count} failed requests of {load.Succeeded + load.Failures.Count}: {string.Join(" | ", load.Failures.Take(10))}");
        var running = await node.CtlAsync("show", "running-config");
        Assert.Matches(@"service ssl3\n(.*\n)*?\s*add ssl-proxy-list frontend2", running.Stdout);
        // Module ssl3 took flows again after the change, under its new proxy list.
        output.WriteLine($"front-end procedure: {load.Succeeded} requests, 0 failed; ssl3 accepted {ssl3Before} before the reassignment, {ssl3After} after");
        Assert.True(ssl3After > ssl3Before, $"ssl3 accepted {ssl3Before} flows before and {ssl3After} after the reassignment");
    }
}
