using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 12 on three real node processes: client certificates checked by OCSP (the real <c>openssl ocsp</c>) and their
/// fields inserted into the requests, the same whichever node the client reaches; a revoked certificate refused by
/// every node; a client's forged identity headers never reach the server; the same written in the SSLM face. Real
/// clients: curl <c>--cert</c>.
/// </summary>
[Collection("nodes")]
public sealed class ClientCertificateClusterTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("Cluster Client CA");
    private readonly string _folder = Directory.CreateTempSubdirectory("sslcluster-cc-cluster-").FullName;

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task ThreeNodes_ClientCertHeadersAndOcsp_EveryNodeInsertsTheSameFieldsAndRefusesTheRevoked()
    {
        using var alice = _ca.IssueClient("alice");
        using var mallory = _ca.IssueClient("mallory");
        using var responder = await OpenSslOcspResponder.StartAsync(_folder, _ca.Certificate, _ca.KeyPem,
            OpenSslOcspResponder.IndexLine(alice.ToX509()) + OpenSslOcspResponder.IndexLine(mallory.ToX509(), DateTimeOffset.UtcNow.AddHours(-1)));
        await using var cluster = await LocalCluster.StartAsync(3);
        var first = cluster.Running.First();
        BackendTestKit.Ok(await first.CtlAsync("copy", "ssl", "file:" + _ca.CertificatePemPath, "import", "clientca", "pem", "pw-clientca"));

        await cluster.ConfigureVipAsync($"""

            ssl associate cert clientca clientca
            ssl-proxy-list p
              ssl-server 1 authentication enable
              ssl-server 1 cacert clientca
              ssl-server 1 revocation-check ocsp
              ssl-server 1 client-ocsp-url "{responder.Url}"
              ssl-server 1 http-header client-cert
              ssl-server 1 http-header session
              ssl-server 1 http-header xfcc
            """);

        // The same client authentication and insertion written in the SSLM face, on a port of its own: a context, a
        // trustpoint made of the store's key and certificate, a CA pool, a header policy and an in-service proxy service.
        var sslmPort = NodeProcess.FreePort();
        var cappedPort = NodeProcess.FreePort();
        BackendTestKit.Ok(await first.CtlWithInputAsync($"""
            crypto pki trustpoint web
             rsakeypair k.key
            crypto pki certificate chain web
             certificate 01 nvram:c.pem
            crypto pki trustpoint clients
             revocation-check ocsp
             ocsp url {responder.Url}
            crypto pki certificate chain clients
             certificate ca 01 clientca
            ssl-proxy context Default
             pool ca clientpool
              ca trustpoint clients
             policy http-header hp
              client-cert
              session
             service sslm1
              virtual ipaddr 127.0.0.1 protocol tcp port {sslmPort}
              server ipaddr 127.0.0.9 protocol tcp port {cluster.BackendPort}
              certificate rsa general-purpose trustpoint web
              trusted-ca clientpool
              policy http-header hp
              inservice
            ssl-proxy context capped
             maxconns 3
             service held
              virtual ipaddr 127.0.0.1 protocol tcp port {cappedPort}
              server ipaddr 127.0.0.9 protocol tcp port {cluster.BackendPort}
              certificate rsa general-purpose trustpoint web
              inservice
            """, "configure", "-"));
        foreach (var n in cluster.Running) await n.WaitReadyAsync(TimeSpan.FromSeconds(30));

        var fingerprint = string.Join(':', System.Security.Cryptography.MD5.HashData(alice.Der).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
        for (var i = 1; i <= 3; i++)
        {
            var page = await OpenSslClient.CurlAsync(
                $"-k --cert {alice.CertificatePemPath} --key {alice.KeyPemPath} -H \"ClientCert-Subject-CN: admin\" -H \"X-Forwarded-Client-Cert: Hash=00\" {cluster.Vip(i)}");
            Assert.True(page.ExitCode == 0 && page.StandardOutput.Contains("cluster backend", StringComparison.Ordinal), $"node {i}: {page.AllOutput}");
            Assert.Contains("<td>ClientCert-Valid</td><td>1</td>", page.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("<td>ClientCert-Subject-CN</td><td>alice</td>", page.StandardOutput, StringComparison.Ordinal);
            Assert.Contains($"<td>ClientCert-Fingerprint</td><td>{fingerprint}</td>", page.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("<td>X-Forwarded-Client-Cert</td><td>Hash=", page.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("<td>Session-Cipher-Name</td>", page.StandardOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("admin", page.StandardOutput, StringComparison.Ordinal);
            // The forged value whole: the real hash is 64 hex digits, and may itself start with 00.
            Assert.DoesNotContain("<td>Hash=00</td>", page.StandardOutput, StringComparison.Ordinal);

            var sslm = await OpenSslClient.CurlAsync($"-k --cert {alice.CertificatePemPath} --key {alice.KeyPemPath} https://127.0.0.{i}:{sslmPort}/");
            Assert.True(sslm.ExitCode == 0 && sslm.StandardOutput.Contains("cluster backend", StringComparison.Ordinal), $"node {i}, SSLM service: {sslm.AllOutput}");
            Assert.Contains("<td>ClientCert-Subject-CN</td><td>alice</td>", sslm.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("<td>Session-Cipher-Name</td>", sslm.StandardOutput, StringComparison.Ordinal);
            var sslmRefused = await OpenSslClient.CurlAsync($"-k --cert {mallory.CertificatePemPath} --key {mallory.KeyPemPath} https://127.0.0.{i}:{sslmPort}/");
            Assert.DoesNotContain("cluster backend", sslmRefused.StandardOutput, StringComparison.Ordinal);

            // Each node asks the responder itself the first time: the handshake completes, then the connection closes
            // without a byte forwarded; the second time the node refuses in the handshake.
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var refused = await OpenSslClient.CurlAsync($"-k --cert {mallory.CertificatePemPath} --key {mallory.KeyPemPath} {cluster.Vip(i)}");
                Assert.True(refused.ExitCode != 0, $"node {i}, attempt {attempt}: {refused.AllOutput}");
                Assert.DoesNotContain("cluster backend", refused.StandardOutput, StringComparison.Ordinal);
            }
        }

        // Each node's /metrics tells which revocation method decided its client certificates (a refusal is counted
        // when its connection has ended, a moment after the client saw it).
        using var http = new HttpClient();
        static bool Has(string metrics, string result, int count) => metrics.Split('\n').Any(l =>
            l.StartsWith("sslcluster_client_auth_total{", StringComparison.Ordinal) && l.Contains("module=\"m\"", StringComparison.Ordinal) &&
            l.EndsWith($"result=\"{result}\",revocation=\"ocsp\"}} {count}", StringComparison.Ordinal));
        var metrics = "";
        for (var attempt = 0; attempt < 50 && !(Has(metrics, "Verified", 1) && Has(metrics, "Revoked", 2)); attempt++)
        {
            if (attempt > 0) await Task.Delay(100);
            metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{first.AdminPort}/metrics"));
        }
        Assert.True(Has(metrics, "Verified", 1), metrics);
        Assert.True(Has(metrics, "Revoked", 2), metrics);
        // This node's own header figures: alice's one request through the SSLM service.
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("sslcluster_header_insertion_requests_total{", StringComparison.Ordinal) &&
            l.Contains("module=\"sslm1@Default\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));

        // The SSLM statistics of the proxy service, summed over the three nodes and asked of any one of them: six
        // connections (alice and mallory on each node), alice's three requests with headers, and each client
        // certificate decision under the OCSP check that made it.
        var nodes = cluster.Running.ToList();
        async Task<string> Until(NodeProcess node, string[] command, string pattern)
        {
            var text = "";
            for (var attempt = 0; attempt < 50 && !System.Text.RegularExpressions.Regex.IsMatch(text, pattern); attempt++)
            {
                if (attempt > 0) await Task.Delay(200);
                var r = await node.CtlAsync(command);
                Assert.True(r.ExitCode == 0, r.ToString());
                text = r.Stdout;
            }
            Assert.Matches(pattern, text);
            return text;
        }
        // Each node reports its figures on its own interval: wait until all of them are in, then check them together.
        var service = await Until(nodes[1], ["show", "ssl-proxy", "service", "sslm1"],
            @"(?s)(?=.*requests with headers inserted\s+: 3\b)(?=.*conns accepted\s+: 6\b)(?=.*Revoked \(Cert Revoked\)\s+3\s+0\s+0\s+0\s+3)");
        Assert.Matches(@"Verified \(none\)\s+3\s+0\s+0\s+0\s+3", service);
        Assert.Contains("Context name: Default", service, StringComparison.Ordinal);
        await Until(first, ["show", "ssl-proxy", "stats", "pki"], @"Verified \(none\)\s+6\s+0\s+0\s+0\s+6");
        Assert.Matches(@"sslm1\s+Default\s+server\s+127\.0\.0\.1:\d+\s+127\.0\.0\.9:\d+\s+up", (await first.CtlAsync("show", "ssl-proxy", "service")).Stdout);

        // A connection held open on node 2 is listed by node 1; a clear on node 3 zeroes the totals of every node and
        // keeps the open-connection gauge.
        using (var held = new System.Net.Sockets.TcpClient())
        {
            await held.ConnectAsync(System.Net.IPAddress.Parse("127.0.0.2"), sslmPort);
            var conn = await Until(first, ["show", "ssl-proxy", "conn", "service", "sslm1"], @"1 open connection\(s\) on 3 node\(s\)");
            Assert.Contains("sslm1@Default", conn, StringComparison.Ordinal);
            Assert.Matches(@"0 open connection\(s\)", (await first.CtlAsync("show", "ssl-proxy", "conn", "service", "sslm1", "client", "127.9.9.9")).Stdout);

            var cleared = await nodes[2].CtlAsync("clear", "ssl-proxy", "stats");
            Assert.True(cleared.ExitCode == 0 && cleared.Stdout.Contains("on 3 node(s)", StringComparison.Ordinal), cleared.ToString());
            // The modules clear the reports they hold at once; node 2's next report (every second) brings the held connection.
            var after = await Until(first, ["show", "ssl-proxy", "service", "sslm1"], @"(?s)(?=.*conns accepted\s+: 0\b)(?=.*conns open\s+: 1\b)");
            Assert.Matches(@"Verified \(none\)\s+0\s+0\s+0\s+0\s+0", after);
        }

        // Context capped allows 3 connections in the cluster: one per node of three. A second connection held on node
        // 1 is closed at once (and counted), while node 2 still takes its own.
        using (var onFirst = await HeldAsync(1))
        using (var secondOnFirst = await HeldAsync(1))
        using (var onSecond = await HeldAsync(2))
        {
            Assert.True(await ClosedByServerAsync(secondOnFirst), "a second connection of context capped on node 1 was admitted");
            Assert.False(await ClosedByServerAsync(onFirst), "the first connection of context capped on node 1 was closed");
            Assert.False(await ClosedByServerAsync(onSecond), "node 2's share of context capped was not admitted");
        }
        var limits = await http.GetStringAsync(new Uri($"http://127.0.0.1:{first.AdminPort}/metrics"));
        Assert.Contains("sslcluster_limit_refusals_total{", limits, StringComparison.Ordinal);
        Assert.Contains(limits.Split('\n'), l => l.Contains("limit=\"ContextConnections\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));

        // Null when the node reset the connection before the connect even completed here (a refusal, seen early).
        async Task<System.Net.Sockets.TcpClient?> HeldAsync(int node)
        {
            var tcp = new System.Net.Sockets.TcpClient();
            try
            {
                await tcp.ConnectAsync(System.Net.IPAddress.Parse($"127.0.0.{node}"), cappedPort);
                return tcp;
            }
            catch (System.Net.Sockets.SocketException)
            {
                tcp.Dispose();
                return null;
            }
        }

        // A refused connection is closed by the node at once; an admitted one waits for its handshake (10 s).
        static async Task<bool> ClosedByServerAsync(System.Net.Sockets.TcpClient? tcp)
        {
            if (tcp is null) return true;
            try
            {
                var read = await tcp.GetStream().ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(1));
                return read == 0;
            }
            catch (TimeoutException)
            {
                return false;
            }
            catch (System.IO.IOException)
            {
                return true;
            }
        }

        var appIf = await first.CtlAsync("clear", "ssl-proxy", "stats", "app-if");
        Assert.True(appIf.ExitCode != 0 && appIf.Stderr.Contains("made of the tcp and ssl ones", StringComparison.Ordinal), appIf.ToString());
    }
}
