using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Runtime;
using SslCluster.TestSupport;

namespace SslCluster.Protocol.Tests.Health;

/// <summary>Every probe type against real loopback servers; configured 10.x addresses are mapped to 127.0.0.1.</summary>
public sealed class KeepaliveProbeTests
{
    private const string Configured = "10.20.30.40";

    /// <summary>The configured address maps to loopback: a probe that dialled 10.20.30.40 itself would never connect.</summary>
    private static readonly KeepaliveEnvironment Env = new() { AddressMap = AddressMap.Parse($"{Configured}=127.0.0.1") };

    private static KeepaliveTarget Target(KeepaliveSettings settings, int port, string name = "web") =>
        new(new KeepaliveKey(KeepaliveOwner.Service, name), settings) { Address = Configured, Port = port };

    private static Task<ProbeOutcome> Probe(KeepaliveTarget target, KeepaliveEnvironment? env = null, string? module = null) =>
        KeepaliveProbes.Create(target, env ?? Env).ProbeAsync(new ProbeAttempt(module), new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);

    private static int FreePort() => SslCluster.TestSupport.Ports.Free();

    [Fact]
    public async Task Tcp_ListeningServer_IsAliveAndStoppedServerIsRefused()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var target = Target(new KeepaliveSettings { Type = KeepaliveType.Tcp }, port);

        var up = await Probe(target);
        listener.Stop();
        var down = await Probe(target);

        Assert.True(up.Alive, up.Detail);
        Assert.False(down.Alive);
        Assert.Equal($"tcp connect to 127.0.0.1:{port} refused", down.Detail);
    }

    [Fact]
    public async Task Icmp_Loopback_IsAliveByEchoOrByTheTcpFallback()
    {
        await using var server = new HttpTestBackend();

        var outcome = await Probe(Target(KeepaliveSettings.Default, server.EndPoint.Port));

        Assert.True(outcome.Alive, outcome.Detail);
        Assert.Contains("127.0.0.1", outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_HeadAndGet_AreAliveOn200AndSendTheUri()
    {
        await using var server = new HttpTestBackend("page\n");

        var head = await Probe(Target(new KeepaliveSettings { Type = KeepaliveType.Http, Uri = "/health" }, server.EndPoint.Port));
        Assert.Equal("HEAD /health HTTP/1.1", server.LastRequestLine);
        var get = await Probe(Target(new KeepaliveSettings { Type = KeepaliveType.Http, MethodHead = false }, server.EndPoint.Port));
        Assert.Equal("GET / HTTP/1.1", server.LastRequestLine);

        Assert.True(head.Alive, head.Detail);
        Assert.True(get.Alive, get.Detail);
    }

    [Fact]
    public async Task Http_GetWithConfiguredHash_FailsWhenThePageDiffers()
    {
        await using var server = new HttpTestBackend("page\n");
        var good = Convert.ToHexStringLower(MD5.HashData("page\n"u8));
        var settings = new KeepaliveSettings { Type = KeepaliveType.Http, MethodHead = false };

        var match = await Probe(Target(settings with { Hash = good }, server.EndPoint.Port));
        var differ = await Probe(Target(settings with { Hash = new string('0', 32) }, server.EndPoint.Port));

        Assert.True(match.Alive, match.Detail);
        Assert.False(differ.Alive);
        Assert.Contains($"page hash {good} differs", differ.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_Non200_IsAFailureAndStoppedServerIsRefused()
    {
        await using var server = new StatusServer(302);
        var target = Target(new KeepaliveSettings { Type = KeepaliveType.Http }, server.EndPoint.Port);

        var redirect = await Probe(target);
        var stopped = await Probe(Target(new KeepaliveSettings { Type = KeepaliveType.Http }, FreePort()));

        Assert.False(redirect.Alive);
        Assert.Contains("status 302, 200 required", redirect.Detail, StringComparison.Ordinal);
        Assert.False(stopped.Alive);
        Assert.EndsWith("refused", stopped.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ssl_TlsServer_CompletesTheHandshakeAndStoppedServerFails()
    {
        var server = new TlsServer(http: false);
        var target = Target(new KeepaliveSettings { Type = KeepaliveType.Ssl }, server.EndPoint.Port);

        var up = await Probe(target, module: "ssl2");
        await server.DisposeAsync();
        var down = await Probe(target);

        Assert.True(up.Alive, up.Detail);
        Assert.Equal($"ssl handshake with 127.0.0.1:{server.EndPoint.Port} via module ssl2 completed", up.Detail);
        Assert.False(down.Alive);
    }

    [Fact]
    public async Task Ssl_ServerClosingAtOnce_FailsTheHandshake()
    {
        await using var server = new ClosingServer();

        var outcome = await Probe(Target(new KeepaliveSettings { Type = KeepaliveType.Ssl }, server.EndPoint.Port));

        Assert.False(outcome.Alive);
    }

    [Fact]
    public async Task HttpEncrypt_TlsHttpServer_IsAliveOnAGetOverTls()
    {
        await using var server = new TlsServer(http: true);

        var outcome = await Probe(Target(new KeepaliveSettings { Type = KeepaliveType.Http, Encrypt = true, MethodHead = false, Uri = "/" }, server.EndPoint.Port));

        Assert.True(outcome.Alive, outcome.Detail);
        Assert.StartsWith("https GET / to 127.0.0.1:", outcome.Detail, StringComparison.Ordinal);
        Assert.Equal("GET / HTTP/1.1", server.LastRequestLine);
    }

    [Fact]
    public async Task BuiltInScript_KalServiceCheck_IsAliveOnlyWhileTheServiceIsAlive()
    {
        var table = new ServiceHealthTable();
        var env = Env with { Health = table };
        var target = Target(new KeepaliveSettings { Type = KeepaliveType.Script, Script = "kal-service-check", ScriptArgs = "sslkal", UseOutput = true }, 0, "sslserver");

        var alive = await Probe(target, env);
        table.Publish(new KeepaliveKey(KeepaliveOwner.Service, "sslkal"), KeepaliveState.Start(DateTimeOffset.UnixEpoch) with { State = ServiceHealthState.Dying });
        var dying = await Probe(target, env);

        Assert.Equal(new ProbeOutcome(true, "Alive"), alive);
        Assert.Equal(new ProbeOutcome(false, "Down"), dying);
    }

    [Fact]
    public async Task ExecutableScript_ExitCodeAndFirstOutputLine_DecideAndExplain()
    {
        using var folder = new TempFolder();
        folder.Script("check.sh", "#!/bin/sh\necho \"checked $1 $2\"\necho second\n[ \"$1\" = good ]\n");
        var env = Env with { ScriptsFolder = folder.Path };
        var settings = new KeepaliveSettings { Type = KeepaliveType.Script, Script = "check.sh", UseOutput = true };

        var good = await Probe(Target(settings with { ScriptArgs = "good x" }, 0), env);
        var bad = await Probe(Target(settings with { ScriptArgs = "bad" }, 0), env);
        var quiet = await Probe(Target(settings with { ScriptArgs = "bad", UseOutput = false }, 0), env);

        Assert.Equal(new ProbeOutcome(true, "checked good x"), good);
        Assert.Equal(new ProbeOutcome(false, "checked bad "), bad);
        Assert.Equal(new ProbeOutcome(false, "script check.sh exited with 1"), quiet);
    }

    [Fact]
    public async Task ExecutableScript_RunningPastTheTimeLimit_IsKilledAndFails()
    {
        using var folder = new TempFolder();
        folder.Script("hang.sh", "#!/bin/sh\nsleep 30\n");
        var env = Env with { ScriptsFolder = folder.Path };
        var target = Target(new KeepaliveSettings { Type = KeepaliveType.Script, Script = "hang.sh", FrequencySeconds = 2, MaxFailure = 1 }, 0);
        var runner = new KeepaliveRunner(target, KeepaliveProbes.Create(target, env), new ServiceHealthTable(), TimeProvider.System);
        var started = DateTime.UtcNow;

        await runner.ProbeOnceAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(ServiceHealthState.Down, runner.State.State);
        Assert.Equal("script hang.sh timed out after 1 s", runner.State.LastFailureReason);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ExecutableScript_NoScriptsFolderOrMissingFile_Fails()
    {
        using var folder = new TempFolder();
        var target = Target(new KeepaliveSettings { Type = KeepaliveType.Script, Script = "absent.sh" }, 0);

        var noFolder = await Probe(target);
        var missing = await Probe(target, Env with { ScriptsFolder = folder.Path });

        Assert.Contains("no scripts folder", noFolder.Detail, StringComparison.Ordinal);
        Assert.False(missing.Alive);
        Assert.Contains("no file", missing.Detail, StringComparison.Ordinal);
    }

    /// <summary>A temporary folder for scripts, removed afterwards.</summary>
    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("kal-scripts-").FullName;

        public void Script(string name, string text)
        {
            var file = System.IO.Path.Combine(Path, name);
            File.WriteAllText(file, text);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    /// <summary>Accepts and closes at once: no TLS server there.</summary>
    private sealed class ClosingServer : LoopbackServer
    {
        protected override Task HandleAsync(Socket socket, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Answers every request with a fixed status and closes.</summary>
    private sealed class StatusServer(int status) : LoopbackServer
    {
        protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
        {
            await using var stream = new NetworkStream(socket);
            await ReadHeadAsync(stream, cancellationToken);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} Found\r\nLocation: /x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), cancellationToken);
        }
    }

    /// <summary>A TLS server over SslStream with a generated certificate; with <c>http</c> it answers one request.</summary>
    private sealed class TlsServer(bool http) : LoopbackServer
    {
        private static readonly Lazy<X509Certificate2> Certificate = new(() =>
        {
            using var generated = TestCertificates.CreateRsa();
            using var pem = X509Certificate2.CreateFromPemFile(generated.CertificatePemPath, generated.KeyPemPath);
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        });

        public string? LastRequestLine { get; private set; }

        protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
        {
            await using var ssl = new SslStream(new NetworkStream(socket));
            try
            {
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = Certificate.Value }, cancellationToken);
            }
            catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
            {
                return;
            }
            if (!http) return;
            LastRequestLine = (await ReadHeadAsync(ssl, cancellationToken)).Split("\r\n")[0];
            await ssl.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"u8.ToArray(), cancellationToken);
            await ssl.ShutdownAsync();
        }
    }

    private static async Task<string> ReadHeadAsync(Stream stream, CancellationToken ct)
    {
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && head.Length < 65536)
        {
            var n = await stream.ReadAsync(buffer, ct);
            if (n == 0) break;
            head.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return head.ToString();
    }
}
