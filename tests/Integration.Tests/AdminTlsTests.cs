using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// The admin endpoint over HTTPS for a remote sslctl (sslcluster.node.admin.tls): served with the operator's PKCS#12,
/// nothing in clear text on its port, and a node told to listen off loopback without a certificate never starts.
/// Loopback only here: the decision for other addresses is unit-tested (AdminListenTests).
/// </summary>
[Collection("nodes")]
public sealed class AdminTlsTests : IDisposable
{
    private const string Password = "admin-tls-pw";
    private readonly RsaTestAuthority _ca = RsaTestAuthority.Create("sslcluster admin test CA");
    private readonly string _folder = Directory.CreateTempSubdirectory("sslnode-admin-tls-").FullName;

    /// <summary>An overlay as an operator writes it: the certificate's path only, its password in the environment.</summary>
    private string Overlay(string settings)
    {
        var path = Path.Combine(_folder, "admin-" + Guid.NewGuid().ToString("N") + ".conf");
        File.WriteAllText(path, "sslcluster.node.admin { " + settings + " }\n");
        return path;
    }

    private string Pkcs12()
    {
        using var issued = _ca.IssueServer("admin.test", IPAddress.Loopback);
        using var withKey = issued.ToX509WithKey();
        var path = Path.Combine(_folder, "admin.p12");
        File.WriteAllBytes(path, withKey.Export(X509ContentType.Pkcs12, Password));
        return path;
    }

    [Fact]
    public async Task Https_SslctlWithTheNodesCa_AnswersWithoutItRefusedPlainHttpFails()
    {
        var overlay = Overlay($"tls.certificate = \"{Pkcs12()}\"");
        using var node = NodeProcess.Launch(NodeProcess.NewDataDir(), new Dictionary<string, string> { ["SSLCLUSTER_ADMIN_TLS_PASSWORD"] = Password }, "--config", overlay);
        var endpoint = $"https://127.0.0.1:{node.AdminPort.ToString(CultureInfo.InvariantCulture)}";
        await WaitReadyAsync(node, endpoint);
        Task<ProcessResult> Sslctl(params string[] args) =>
            Run.ProcessAsync("dotnet", [NodeProcess.CliDll, "--data-dir", node.DataDir, .. args], null, TimeSpan.FromSeconds(60));

        // The token, over TLS to a certificate of the operator's CA, is what the endpoint is for.
        var trusted = await Sslctl("--endpoint", endpoint, "--ca", _ca.CertificatePemPath, "cluster", "show");
        var fromEnvironment = await Run.ProcessAsync("env", [$"SSLCTL_CA={_ca.CertificatePemPath}", $"SSLCTL_ENDPOINT={endpoint}", "dotnet", NodeProcess.CliDll,
            "--data-dir", node.DataDir, "cluster", "leader"], null, TimeSpan.FromSeconds(60));
        var environmentWithOption = await Run.ProcessAsync("env", [$"SSLCTL_CA={_ca.CertificatePemPath}", "dotnet", NodeProcess.CliDll,
            "--endpoint", endpoint, "--data-dir", node.DataDir, "cluster", "leader"], null, TimeSpan.FromSeconds(60));
        var untrusted = await Sslctl("--endpoint", endpoint, "cluster", "show");
        var caForPlain = await Sslctl("--endpoint", $"http://127.0.0.1:{node.AdminPort.ToString(CultureInfo.InvariantCulture)}", "--ca", _ca.CertificatePemPath, "cluster", "show");

        Assert.True(trusted.ExitCode == 0 && LocalCluster.UpMembers(trusted.Stdout) == 1, trusted.ToString());
        Assert.True(fromEnvironment.ExitCode == 0 && fromEnvironment.Stdout.StartsWith("akka.tcp://sslcluster@", StringComparison.Ordinal), fromEnvironment.ToString());
        Assert.True(environmentWithOption.ExitCode == 0, environmentWithOption.ToString());
        // The system's CAs do not know the operator's: no answer, and the token was never sent.
        Assert.True(untrusted.ExitCode == 3 && untrusted.Stderr.Contains("cannot reach the node at https://127.0.0.1:", StringComparison.Ordinal), untrusted.ToString());
        Assert.True(caForPlain.ExitCode == 2 && caForPlain.Stderr.Contains("is not https", StringComparison.Ordinal), caForPlain.ToString());
        Assert.Contains($"admin endpoint {endpoint} (token in", node.Output, StringComparison.Ordinal);

        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync(new Uri($"http://127.0.0.1:{node.AdminPort.ToString(CultureInfo.InvariantCulture)}/healthz")));
        Assert.False(node.HasExited, node.Output);
    }

    [Fact]
    public async Task NotLoopbackWithoutCertificate_NodeExitsSayingTheTokenWouldGoInClearText()
    {
        using var node = NodeProcess.Launch(NodeProcess.NewDataDir(), new Dictionary<string, string>(), "--config", Overlay("host = \"0.0.0.0\""));

        var output = await ExitedAsync(node);

        Assert.True(node.ExitCode == 1, output);
        Assert.Contains("sslnode: bad setting: sslcluster.node.admin.host = 0.0.0.0 is not a loopback address and sslcluster.node.admin.tls.certificate is empty: " +
            "the admin token would cross the network in clear text", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongPassword_NodeExitsNamingTheKeyAndTheFile()
    {
        var p12 = Pkcs12();
        using var node = NodeProcess.Launch(NodeProcess.NewDataDir(), new Dictionary<string, string> { ["SSLCLUSTER_ADMIN_TLS_PASSWORD"] = "wrong" },
            "--config", Overlay($"tls.certificate = \"{p12}\""));

        var output = await ExitedAsync(node);

        Assert.True(node.ExitCode == 1, output);
        Assert.Contains($"sslnode: sslcluster.node.admin.tls.certificate: '{p12}' cannot be opened as PKCS#12 with the password in SSLCLUSTER_ADMIN_TLS_PASSWORD", output, StringComparison.Ordinal);
    }

    /// <summary>NodeProcess.WaitReadyAsync speaks plain HTTP; this one asks with curl, trusting the operator's CA.</summary>
    private async Task WaitReadyAsync(NodeProcess node, string endpoint)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(node.HasExited, node.Output);
            var r = await Run.ProcessAsync("curl", ["-sf", "--max-time", "5", "--cacert", _ca.CertificatePemPath, endpoint + "/readyz"], null, TimeSpan.FromSeconds(10));
            if (r.ExitCode == 0) return;
            await Task.Delay(200);
        }
        throw new TimeoutException($"sslnode not ready over https within 60 s:\n{node.Output}");
    }

    /// <summary>Waits for a node that must refuse to start, and for its last words.</summary>
    private static async Task<string> ExitedAsync(NodeProcess node)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!node.HasExited && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.True(node.HasExited, "the node started:\n" + node.Output);
        // The output is read asynchronously: the last line may come just after the exit.
        for (var i = 0; i < 50 && !node.Output.Contains("sslnode: ", StringComparison.Ordinal); i++) await Task.Delay(100);
        return node.Output;
    }

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
