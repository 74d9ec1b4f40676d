using System.Net;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Integration.Tests.BackendTestKit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// SSLM client proxy services (SSL initiation written in the SSLM 3.1 face) on a real node process: clear text on the
/// service's virtual address goes out as TLS to its server, presenting the trustpoint's certificate and checking the
/// server against the CA pool (<c>authenticate verify all</c>: chain, dates and address; <c>signature-only</c>: the
/// chain alone). Real HTTPS servers (.NET SslStream) on 127.191.150.x, curl as the clear-text client. Two contexts
/// each name a pool <c>servers</c>: names are scoped by context.
/// </summary>
public sealed class SslmClientServiceFixture : IAsyncLifetime
{
    public const string Vip = "127.191.150.1";

    /// <summary>An admin token limited to context lab, and a read-only token of everything (the node's tokens file).</summary>
    public const string LabToken = "lab-admin-0123456789abcdef0123456789abcdef";

    public const string ReadOnlyToken = "read-only-0123456789abcdef0123456789abcdef";

    public RsaTestAuthority Ca { get; } = RsaTestAuthority.Create("SSLM Server CA");

    public RsaTestAuthority OtherCa { get; } = RsaTestAuthority.Create("Stranger Server CA");

    private readonly List<IDisposable> _owned = [];

    /// <summary>Asks for a client certificate; its certificate is issued by <see cref="Ca"/> for its address.</summary>
    public TlsHttpBackend Real { get; private set; } = null!;

    /// <summary>A certificate from <see cref="OtherCa"/>.</summary>
    public TlsHttpBackend Stranger { get; private set; } = null!;

    /// <summary>A certificate from <see cref="Ca"/> that expired yesterday and names another address.</summary>
    public TlsHttpBackend Expired { get; private set; } = null!;

    public NodeProcess Node { get; private set; } = null!;

    public int RealPort { get; } = FreePort(Vip);

    public int StrangerPort { get; } = FreePort(Vip);

    public int ExpiredAllPort { get; } = FreePort(Vip);

    public int ExpiredSignaturePort { get; } = FreePort(Vip);

    public int HeadersPort { get; } = FreePort(Vip);

    public async Task InitializeAsync()
    {
        static IPAddress A(int last) => IPAddress.Parse("127.191.150." + last.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var now = DateTimeOffset.UtcNow;
        var real = Own(Ca.IssueServer("real.example.com", A(10)));
        var stranger = Own(OtherCa.IssueServer("stranger.example.com", A(11)));
        var expired = Own(Ca.IssueServer("expired.example.com", now.AddDays(-10), now.AddDays(-1), A(99)));
        var client = Own(Ca.IssueClient("CN=sslm-initiator, O=SslCluster Tests"));
        Real = new TlsHttpBackend(A(10), Own(real.ToX509WithKey()), "real-10", new TlsHttpBackendOptions { RequireClientCertificate = true });
        Stranger = new TlsHttpBackend(A(11), Own(stranger.ToX509WithKey()), "stranger-11");
        Expired = new TlsHttpBackend(A(12), Own(expired.ToX509WithKey()), "expired-12");

        var dataDir = NodeProcess.NewDataDir();
        Directory.CreateDirectory(dataDir);
        var tokens = Path.Combine(dataDir, "admin-tokens");
        await File.WriteAllTextAsync(tokens, $"# role  scope  token\nadmin context lab {LabToken}\nread-only {ReadOnlyToken}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tokens, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Node = await NodeProcess.StartAsync(dataDir);
        await Task.WhenAll(ImportAsync(Node, client.WriteKeyAndCertificatePem(), "initiator"), ImportAsync(Node, Ca.CertificatePemPath, "serverca"));
        await ConfigureAsync(Node, $"""
            crypto pki trustpoint initiator
             rsakeypair initiator-key
            crypto pki certificate chain initiator
             certificate 01 nvram:initiator-cert
            crypto pki trustpoint server-ca
             revocation-check none
            crypto pki certificate chain server-ca
             certificate ca 01 nvram:serverca
            ssl-proxy context Default
             policy http-header hp-client
              custom "X-Via:sslm-client"
              client-ip-port
             pool ca servers
              ca trustpoint server-ca
             service with-headers client
              virtual ipaddr {Vip} protocol tcp port {HeadersPort}
              server ipaddr 127.191.150.10 protocol tcp port {Real.Port}
              certificate rsa general-purpose trustpoint initiator
              trusted-ca servers
              policy http-header hp-client
              inservice
             service to-real client
              virtual ipaddr {Vip} protocol tcp port {RealPort}
              server ipaddr 127.191.150.10 protocol tcp port {Real.Port}
              certificate rsa general-purpose trustpoint initiator
              trusted-ca servers
              authenticate verify all
              inservice
             service to-stranger client
              virtual ipaddr {Vip} protocol tcp port {StrangerPort}
              server ipaddr 127.191.150.11 protocol tcp port {Stranger.Port}
              trusted-ca servers
              inservice
            ssl-proxy context lab
             pool ca servers
              ca trustpoint server-ca
             service expired-all client
              virtual ipaddr {Vip} protocol tcp port {ExpiredAllPort}
              server ipaddr 127.191.150.12 protocol tcp port {Expired.Port}
              trusted-ca servers
              inservice
             service expired-signature client
              virtual ipaddr {Vip} protocol tcp port {ExpiredSignaturePort}
              server ipaddr 127.191.150.12 protocol tcp port {Expired.Port}
              trusted-ca servers
              authenticate verify signature-only
              inservice
            """);
        await Node.WaitReadyAsync(TimeSpan.FromSeconds(10));
    }

    private T Own<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public async Task DisposeAsync()
    {
        Node?.Dispose();
        foreach (var backend in new[] { Real, Stranger, Expired })
        {
            if (backend is not null) await backend.DisposeAsync();
        }
        foreach (var d in _owned) d.Dispose();
        Ca.Dispose();
        OtherCa.Dispose();
    }
}

[Collection("nodes")]
public sealed class SslmClientServiceTests(SslmClientServiceFixture f) : IClassFixture<SslmClientServiceFixture>
{
    [Fact]
    public async Task ClientService_ServerChainsToThePool_ClearTextReachesItOverTlsWithTheTrustpointsCertificate()
    {
        var (r, _) = await TimedCurl($"http://{SslmClientServiceFixture.Vip}:{f.RealPort}/");

        Ok(r);
        Assert.Equal("real-10", Header(r.Stdout, "X-Backend-Name"));
        Assert.StartsWith("Tls1", Header(r.Stdout, "X-Tls-Protocol"), StringComparison.Ordinal);
        Assert.Contains("CN=sslm-initiator", f.Real.LastClientCertificateSubject, StringComparison.Ordinal);
        var flows = await f.Node.CtlAsync("show", "ssl", "flows");
        Assert.Contains("SSL Acceleration Flows for module to-real@Default", flows.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientService_ServerFromAnotherCa_NoRequestReachesIt()
    {
        var before = f.Stranger.Requests;

        var (r, _) = await TimedCurl($"http://{SslmClientServiceFixture.Vip}:{f.StrangerPort}/");

        Assert.DoesNotContain("200 OK", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, f.Stranger.Requests);
    }

    [Fact]
    public async Task ClientService_ExpiredServerCertificate_RefusedUnderVerifyAllAndServedUnderSignatureOnly()
    {
        var before = f.Expired.Requests;
        var (all, _) = await TimedCurl($"http://{SslmClientServiceFixture.Vip}:{f.ExpiredAllPort}/");
        Assert.DoesNotContain("200 OK", all.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, f.Expired.Requests);

        var (signature, _) = await TimedCurl($"http://{SslmClientServiceFixture.Vip}:{f.ExpiredSignaturePort}/");

        Ok(signature);
        Assert.Equal("expired-12", Header(signature.Stdout, "X-Backend-Name"));
    }

    [Fact]
    public async Task ShowSslProxy_ClientService_CountsItsConnectionsAndServerHandshakesAndListsItsOpenConnection()
    {
        var (r, _) = await TimedCurl($"http://{SslmClientServiceFixture.Vip}:{f.RealPort}/");
        Ok(r);

        using var held = new System.Net.Sockets.TcpClient();
        await held.ConnectAsync(IPAddress.Parse(SslmClientServiceFixture.Vip), f.RealPort);
        string service = "", conn = "";
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (attempt > 0) await Task.Delay(200);
            service = (await f.Node.CtlAsync("show", "ssl-proxy", "service", "to-real")).Stdout;
            conn = (await f.Node.CtlAsync("show", "ssl-proxy", "conn", "service", "to-real@Default")).Stdout;
            if (System.Text.RegularExpressions.Regex.IsMatch(service, @"server handshakes completed\s+: [1-9]") &&
                System.Text.RegularExpressions.Regex.IsMatch(service, @"conns closed normally\s+: [1-9]") &&
                System.Text.RegularExpressions.Regex.IsMatch(service, @"conns open\s+: 1\b") && conn.Contains("1 open connection", StringComparison.Ordinal)) break;
        }

        Assert.Matches(@"conns accepted\s+: [1-9]", service);
        Assert.Matches(@"conns closed normally\s+: [1-9]", service);
        Assert.Matches(@"server handshakes completed\s+: [1-9]", service);
        Assert.Matches(@"conns open\s+: 1\b", service);
        Assert.Matches(@"\bhandshakes completed\s+: 0\b", service);
        Assert.Contains("Service type: client (SSL initiation)", service, StringComparison.Ordinal);
        Assert.Contains("1 open connection(s) on 1 node(s)", conn, StringComparison.Ordinal);
        Assert.Contains("to-real@Default", conn, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContextToken_ShowsAndConfiguresItsContextOnly()
    {
        string[] lab = ["--token", SslmClientServiceFixture.LabToken];

        var config = await f.Node.CtlAsync([.. lab, "show", "running-config"]);
        var services = await f.Node.CtlAsync([.. lab, "show", "ssl-proxy", "service"]);
        var flows = await f.Node.CtlAsync([.. lab, "show", "ssl", "flows"]);
        var inside = await f.Node.CtlWithInputAsync("ssl-proxy context lab\n maxconns 500\n", [.. lab, "configure", "-"]);
        var otherContext = await f.Node.CtlWithInputAsync("ssl-proxy context Default\n maxconns 10\n", [.. lab, "configure", "-"]);
        var trustpoint = await f.Node.CtlWithInputAsync("crypto pki trustpoint lab-own\n revocation-check none\n", [.. lab, "configure", "-"]);
        var cluster = await f.Node.CtlAsync([.. lab, "cluster", "show"]);

        Ok(config);
        Assert.StartsWith("ssl-proxy context lab", config.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("to-real", config.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("crypto pki", config.Stdout, StringComparison.Ordinal);
        Assert.Contains("expired-all", services.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("to-real", services.Stdout, StringComparison.Ordinal);
        Assert.Contains("expired-all@lab", flows.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("to-real@Default", flows.Stdout, StringComparison.Ordinal);
        Ok(inside);
        Assert.Contains(" maxconns 500", (await f.Node.CtlAsync("show", "running-config")).Stdout, StringComparison.Ordinal);
        Assert.True(otherContext.ExitCode != 0 && otherContext.Stderr.Contains("may change that context only, and this text changes ssl-proxy-context/Default", StringComparison.Ordinal), otherContext.ToString());
        Assert.True(trustpoint.ExitCode != 0 && trustpoint.Stderr.Contains("trustpoint/lab-own", StringComparison.Ordinal), trustpoint.ToString());
        Assert.DoesNotContain("lab-own", (await f.Node.CtlAsync("show", "running-config")).Stdout, StringComparison.Ordinal);
        Assert.True(cluster.ExitCode != 0 && cluster.Stderr.Contains("is limited to ssl-proxy context lab", StringComparison.Ordinal), cluster.ToString());
    }

    [Fact]
    public async Task ReadOnlyToken_ShowsEverythingAndChangesNothing()
    {
        string[] ro = ["--token", SslmClientServiceFixture.ReadOnlyToken];

        var config = await f.Node.CtlAsync([.. ro, "show", "running-config"]);
        var stats = await f.Node.CtlAsync([.. ro, "show", "ssl-proxy", "stats", "tcp"]);
        var change = await f.Node.CtlWithInputAsync("ssl-proxy context Default\n maxconns 10\n", [.. ro, "configure", "-"]);
        var clear = await f.Node.CtlAsync([.. ro, "clear", "ssl-proxy", "stats"]);
        var wrong = await f.Node.CtlAsync("--token", "not-a-token-of-this-node-0123456789abcdef", "show", "running-config");
        // The role is checked against the route that matched, whatever the path's case.
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", SslmClientServiceFixture.ReadOnlyToken);
        var spelled = await http.PostAsync(new Uri($"http://127.0.0.1:{f.Node.AdminPort}/V1/Configure/"),
            System.Net.Http.Json.JsonContent.Create(new SslCluster.Protocol.Admin.ConfigureRequest("ssl-proxy context Default\n maxconns 10\n")));

        Ok(config);
        Assert.Contains("to-real", config.Stdout, StringComparison.Ordinal);
        Ok(stats);
        Assert.True(change.ExitCode != 0 && change.Stderr.Contains("is read-only", StringComparison.Ordinal), change.ToString());
        Assert.True(clear.ExitCode != 0 && clear.Stderr.Contains("is read-only", StringComparison.Ordinal), clear.ToString());
        Assert.True(wrong.ExitCode != 0 && wrong.Stderr.Contains("refused the admin token", StringComparison.Ordinal), wrong.ToString());
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, spelled.StatusCode);
        Assert.DoesNotContain("maxconns 10", (await f.Node.CtlAsync("show", "running-config")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientServiceWithHeaderPolicy_EveryRequestGetsTheLinesAndAClientCannotForgeThem()
    {
        var (r, _) = await TimedCurl("-H", "ClientIP: 6.6.6.6", "-H", "X-Via: forged", $"http://{SslmClientServiceFixture.Vip}:{f.HeadersPort}/");

        Ok(r);
        var head = f.Real.LastRequestHead!;
        Assert.Contains("\r\nX-Via: sslm-client", head, StringComparison.Ordinal);
        Assert.Contains("\r\nClientIP: 127.", head, StringComparison.Ordinal);
        Assert.Contains("\r\nClientPort: ", head, StringComparison.Ordinal);
        Assert.DoesNotContain("6.6.6.6", head, StringComparison.Ordinal);
        Assert.DoesNotContain("forged", head, StringComparison.Ordinal);
    }
}
