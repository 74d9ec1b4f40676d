using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SslCluster.TestSupport;

namespace SslCluster.Integration.Tests;

/// <summary>
/// A real sslnode process on loopback with its own data folder and ports, as an operator would run it. Output is
/// captured for the failure message; Dispose kills the process tree.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process, string dataDir, int adminPort)
    {
        _process = process;
        DataDir = dataDir;
        AdminPort = adminPort;
        process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string DataDir { get; }

    public int AdminPort { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public static string Configuration => AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string NodeDll => Path.Combine(RepoPaths.Root, "src", "Node", "bin", Configuration, "net10.0", "sslnode.dll");

    public static string CliDll => Path.Combine(RepoPaths.Root, "src", "Cli", "bin", Configuration, "net10.0", "sslctl.dll");

    public static int FreePort() => Ports.Free();

    public static string NewDataDir() => Directory.CreateTempSubdirectory("sslnode-test-").FullName;

    /// <summary>Starts a node and waits until its admin endpoint answers /readyz (or fails the test).</summary>
    public static Task<NodeProcess> StartAsync(string dataDir, params string[] extraArgs) =>
        StartAsync(dataDir, new Dictionary<string, string>(), extraArgs);

    /// <summary>Starts a node with extra environment variables (e.g. SSLCLUSTER_MASTER_KEY shared by a cluster).</summary>
    public static async Task<NodeProcess> StartAsync(string dataDir, IReadOnlyDictionary<string, string> environment, params string[] extraArgs)
    {
        var node = Launch(dataDir, environment, extraArgs);
        await node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        return node;
    }

    /// <summary>The setting of the data-path warm-up, off in the nodes of this suite unless a test names it.</summary>
    public const string WarmUpSetting = "sslcluster.proxy.warm-up-connections";

    /// <summary>Starts a node without waiting for it to be ready (one that is expected never to be).</summary>
    public static NodeProcess Launch(string dataDir, IReadOnlyDictionary<string, string> environment, params string[] extraArgs) =>
        Launch(dataDir, environment, FreePort(), extraArgs);

    /// <summary>Starts a node with its admin endpoint on <paramref name="admin"/> (a node started again where it was).</summary>
    public static NodeProcess Launch(string dataDir, IReadOnlyDictionary<string, string> environment, int admin, params string[] extraArgs)
    {
        var remoting = FreePort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { NodeDll, "--data-dir", dataDir, "--admin-port", admin.ToString(System.Globalization.CultureInfo.InvariantCulture), "--remoting-port", remoting.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(extraArgs))
            psi.ArgumentList.Add(a);
        // The data-path warm-up costs each start about a second of CPU, and this suite starts a few hundred nodes on two
        // cores: it runs where a test asks for it (DemoNodeTests, the node ./run.sh starts) and in its own tests.
        if (!extraArgs.Any(a => a.StartsWith(WarmUpSetting, StringComparison.Ordinal)))
        {
            psi.ArgumentList.Add("--set");
            psi.ArgumentList.Add(WarmUpSetting + "=0");
        }
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        return new NodeProcess(Process.Start(psi)!, dataDir, admin);
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"sslnode exited with {_process.ExitCode}:\n{Output}");
            try
            {
                var r = await http.GetAsync(new Uri($"http://127.0.0.1:{AdminPort}/readyz"));
                if (r.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"sslnode not ready within {timeout}:\n{Output}");
    }

    /// <summary>Runs sslctl against this node, as an operator would.</summary>
    public Task<ProcessResult> CtlAsync(params string[] args) => CtlWithInputAsync(null, args);

    public async Task<ProcessResult> CtlWithInputAsync(string? stdin, params string[] args)
    {
        var all = new List<string> { CliDll, "--endpoint", $"http://127.0.0.1:{AdminPort}", "--data-dir", DataDir };
        all.AddRange(args);
        return await Run.ProcessAsync("dotnet", all, stdin, TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// The smallest terminating configuration: module m with proxy list p (key <paramref name="key"/>, certificate
    /// <paramref name="cert"/>) on VIP 127.0.0.1:<paramref name="https"/>, clear text to 127.0.0.1:<paramref name="clear"/>.
    /// </summary>
    public static string OneVip(int https, int clear, string key = "k", string cert = "c") => $"""
        ssl-proxy-list p
          ssl-server 1
          ssl-server 1 rsakey {key}
          ssl-server 1 rsacert {cert}
          ssl-server 1 vip address 127.0.0.1
          ssl-server 1 port {https}
          ssl-server 1 cipher ecdhe-rsa-with-aes-128-gcm-sha256 127.0.0.1 {clear}
          active
        service m
          type ssl-accel
          add ssl-proxy-list p
          active
        owner o
          content c
            vip address 127.0.0.1
            port {https}
            add service m
            active
        """;

    /// <summary>Generates an RSA key and a self-signed certificate with sslctl and associates them, as an operator would.</summary>
    public async Task MakeKeyAsync(string association, string certAssociation, string cn)
    {
        foreach (var (stdin, args) in new (string?, string[])[]
        {
            (null, ["ssl", "genrsa", association + ".key", "2048", "pw-" + association]),
            (null, ["ssl", "gencert", "certkey", association + ".key", "signkey", association + ".key", certAssociation + ".pem", "pw-" + association, "cn=" + cn]),
            ($"ssl associate rsakey {association} {association}.key\nssl associate cert {certAssociation} {certAssociation}.pem\n", ["configure", "-"]),
        })
        {
            var r = await CtlWithInputAsync(stdin, args);
            if (r.ExitCode != 0) throw new InvalidOperationException(r.ToString());
        }
    }

    /// <summary>GET on the admin endpoint with the node's token (for the JSON the CLI formats).</summary>
    public async Task<string> AdminGetAsync(string path)
    {
        var token = (await File.ReadAllTextAsync(Path.Combine(DataDir, SslCluster.Protocol.Admin.AdminPaths.TokenFileName))).Trim();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{AdminPort}{path}"));
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>POST of a JSON body on the admin endpoint with the node's token; the status and the body of the answer.</summary>
    public async Task<(System.Net.HttpStatusCode Status, string Body)> AdminPostAsync(string path, object body, TimeSpan? timeout = null)
    {
        var token = (await File.ReadAllTextAsync(Path.Combine(DataDir, SslCluster.Protocol.Admin.AdminPaths.TokenFileName))).Trim();
        using var http = new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{AdminPort}{path}"))
        {
            Content = System.Net.Http.Json.JsonContent.Create(body, body.GetType(), options: SslCluster.Protocol.Admin.AdminJson.Options),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>kill -9: no shutdown hook runs.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, as Kubernetes or systemd would send; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs a command with a time limit and captures its output.</summary>
public static class Run
{
    public static async Task<ProcessResult> ProcessAsync(string file, IEnumerable<string> args, string? stdin, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return new ProcessResult(p.ExitCode, await stdout, await stderr);
    }
}
