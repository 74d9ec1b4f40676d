using System.Globalization;
using System.Security.Cryptography;
using SslCluster.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 13: the image scripts/build-image.sh builds (test.sh builds it and names it in SSLCLUSTER_TEST_IMAGE) runs as
/// three containers on one network (the host's loopback) with a real PostgreSQL journal: non-root, read-only root file
/// system, no capabilities; they form one cluster by Cluster Bootstrap over mutual TLS and each serves the demo VIP.
/// </summary>
[Collection("nodes")]
public sealed class ContainerImageTests(ITestOutputHelper output)
{
    /// <summary>Podman's default runtime (crun) fails on this machine's cgroups; runc works (docs/kubernetes.md).</summary>
    private static readonly string[] Podman = ["--runtime", "/usr/sbin/runc"];

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task ThreeContainers_FromTheImage_FormOneClusterOverBootstrapAndEachServesTheVip()
    {
        var image = Environment.GetEnvironmentVariable("SSLCLUSTER_TEST_IMAGE");
        Skip.If(string.IsNullOrEmpty(image), Environment.GetEnvironmentVariable("SSLCLUSTER_TEST_IMAGE_SKIPPED") is { Length: > 0 } why
            ? $"no container image: {why}"
            : "no container image: run through ./test.sh, or build one with scripts/build-image.sh and set SSLCLUSTER_TEST_IMAGE");

        string Port() => NodeProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        var (remoting, management, https, http, backend) = (Port(), Port(), Port(), Port(), Port());
        var admin = Enumerable.Range(0, 3).Select(_ => Port()).ToArray();
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var run = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var points = string.Join(",", Enumerable.Range(1, 3).Select(i => $"127.0.0.{i}:{management}"));
        using var ca = RsaTestAuthority.Create("sslcluster container test CA");
        // What the StatefulSet mounts from its Secret: the node's PKCS#12 and the cluster CA, readable by the node's user.
        var remotingDir = Directory.CreateTempSubdirectory("sslcluster-remoting-").FullName;
        File.Copy(ca.IssueNodePkcs12("container node", LocalCluster.Password), Path.Combine(remotingDir, "node.p12"));
        File.Copy(ca.CertificatePemPath, Path.Combine(remotingDir, "ca.pem"));
        foreach (var f in Directory.GetFiles(remotingDir)) File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(remotingDir, (UnixFileMode)0b111_101_101);
        var names = Enumerable.Range(1, 3).Select(i => $"sslcluster-test-{run}-{i}").ToArray();
        var dataDirs = new List<string>();
        // One journal and one master key for the three, as the StatefulSet's Secret gives them.
        var journal = TestPostgres.NewDatabase();
        var masterKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        try
        {
            for (var i = 1; i <= 3; i++)
            {
                var data = Directory.CreateTempSubdirectory("sslcluster-container-data-").FullName;
                dataDirs.Add(data);
                string[] args =
                [
                    .. Podman, "run", "-d", "--name", names[i - 1], "--network", "host",
                    "--read-only", "--tmpfs", "/tmp", "-v", $"{data}:/var/lib/sslcluster:U", "-v", $"{remotingDir}:/etc/sslcluster/remoting:ro",
                    "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                    "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
                    "-e", $"SSLCLUSTER_JOURNAL_POSTGRES={journal}", "-e", $"SSLCLUSTER_MASTER_KEY={masterKey}",
                    "-e", $"SSLCLUSTER_REMOTING_TLS_PASSWORD={LocalCluster.Password}", "-e", $"SSLCLUSTER_ADMIN_TOKEN={token}",
                    image!,
                    "--config", "/etc/sslcluster/cluster.conf", "--hostname", $"127.0.0.{i}", "--remoting-port", remoting,
                    "--contact-points", points, "--management-port", management, "--admin-port", admin[i - 1],
                    "--demo", "--address-map", $"127.0.0.1=127.0.0.{i}", "--log-format", "text",
                    "--set", $"sslcluster.node.demo.https-port={https}", "--set", $"sslcluster.node.demo.http-port={http}",
                    "--set", $"sslcluster.node.demo.backend-port={backend}",
                ];
                var started = await Run.ProcessAsync("podman", args, null, TimeSpan.FromSeconds(60));
                Assert.True(started.ExitCode == 0, started.ToString());
            }

            // Ready on the management port (what Kubernetes' readiness probe asks) once the cluster formed and the
            // demo configuration is in force on that node.
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            for (var i = 1; i <= 3; i++)
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
                var ready = false;
                while (!ready && DateTime.UtcNow < deadline)
                {
                    try
                    {
                        using var r = await client.GetAsync(new Uri($"http://127.0.0.{i}:{management}/readyz"));
                        ready = r.IsSuccessStatusCode;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                    }
                    if (!ready) await Task.Delay(1000);
                }
                Assert.True(ready, $"container {i} never became ready:\n{await LogsAsync(names[i - 1])}");
            }

            var members = await Run.ProcessAsync("dotnet", [NodeProcess.CliDll, "--endpoint", $"http://127.0.0.1:{admin[0]}", "--token", token, "cluster", "show"], null, TimeSpan.FromSeconds(30));
            Assert.True(LocalCluster.UpMembers(members.Stdout) == 3, members.ToString());
            for (var i = 1; i <= 3; i++)
            {
                var served = await Run.ProcessAsync("curl", ["-sSk", "--max-time", "10", $"https://127.0.0.{i}:{https}/"], null, TimeSpan.FromSeconds(20));
                Assert.True(served.ExitCode == 0 && served.Stdout.Contains("sslcluster demo backend", StringComparison.Ordinal), $"node {i}: {served}");
            }

            // The image starts the node with two glibc malloc arenas (docs/configuration.md), as its start line says.
            var log = await Run.ProcessAsync("podman", ["logs", names[0]], null, TimeSpan.FromSeconds(30));
            Assert.Contains("; malloc arenas 2", log.Stdout + log.Stderr, StringComparison.Ordinal);

            // The node runs as its own user, with nothing writable but its volumes.
            var inside = await Run.ProcessAsync("podman", [.. Podman, "exec", names[0], "/bin/sh", "-c", "id -u; touch /app/x 2>&1; touch /etc/x 2>&1; ls /usr/bin/apt /usr/bin/gcc /usr/bin/make 2>&1"], null, TimeSpan.FromSeconds(30));
            Assert.StartsWith("10001\n", inside.Stdout, StringComparison.Ordinal);
            Assert.Equal(2, inside.Stdout.Split("Read-only file system").Length - 1);
            Assert.Equal(3, inside.Stdout.Split("No such file or directory").Length - 1);
            var size = await Run.ProcessAsync("podman", ["image", "inspect", "--format", "{{.Size}}", image!], null, TimeSpan.FromSeconds(30));
            output.WriteLine($"image {image}: {long.Parse(size.Stdout.Trim(), CultureInfo.InvariantCulture) / (1024 * 1024)} MiB");
        }
        finally
        {
            await Run.ProcessAsync("podman", [.. Podman, "rm", "-f", "-t", "5", .. names], null, TimeSpan.FromSeconds(60));
            Directory.Delete(remotingDir, recursive: true);
            foreach (var data in dataDirs)
            {
                try
                {
                    Directory.Delete(data, recursive: true);
                }
                catch (UnauthorizedAccessException)
                {
                    // Rootless podman gave the folder to the container's user: it stays in the temporary folder.
                }
            }
        }
    }

    private static async Task<string> LogsAsync(string name) =>
        (await Run.ProcessAsync("podman", ["logs", "--tail", "40", name], null, TimeSpan.FromSeconds(30))).ToString();
}
