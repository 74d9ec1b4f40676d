using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Protocol.Health;

/// <summary>One probe: <paramref name="Module"/> is the SSL module that sends it when it is encrypted.</summary>
public sealed record ProbeAttempt(string? Module);

/// <summary>A probe's verdict and what it saw, in words for the log and <c>show keepalive</c>.</summary>
public sealed record ProbeOutcome(bool Alive, string Detail);

/// <summary>Sends one keepalive. Implementations honour the token, which also carries the probe's time limit.</summary>
public interface IKeepaliveProbe
{
    Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct);

    /// <summary>"tcp connect to 127.0.0.1:443", for messages.</summary>
    string Describe();
}

/// <summary>What the probes of a node share: where configured addresses really are, TLS, scripts, the health table.</summary>
public sealed record KeepaliveEnvironment
{
    public AddressMap AddressMap { get; init; } = AddressMap.Identity;

    public ITlsProbeConnector TlsConnector { get; init; } = new SslStreamProbeConnector();

    /// <summary>Folder of script keepalives (the CSS's <c>/script</c>); null: only the built-in scripts run.</summary>
    public string? ScriptsFolder { get; init; }

    /// <summary>Read by the built-in kal-service-check script.</summary>
    public IServiceHealth Health { get; init; } = AlwaysAlive.Instance;

    /// <summary>Told once per process when ICMP cannot be sent and TCP connects are used instead.</summary>
    public Action<string>? Notice { get; init; }
}

/// <summary>Builds the probe for a target.</summary>
public static class KeepaliveProbes
{
    public static IKeepaliveProbe Create(KeepaliveTarget target, KeepaliveEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(env);
        var k = target.Settings;
        if (k.Type == KeepaliveType.Script)
        {
            var script = k.Script ?? string.Empty;
            return KeepaliveScripts.IsBuiltIn(script)
                ? new ServiceCheckScriptProbe(script, k.ScriptArgs, k.UseOutput, env.Health)
                : new ExecutableScriptProbe(env.ScriptsFolder, script, k.ScriptArgs, k.UseOutput);
        }
        // Every probe dials the mapped address, never the one the configuration names.
        var endpoint = target.Address is { } a ? env.AddressMap.Map(a, target.Port) : new IPEndPoint(IPAddress.Loopback, target.Port);
        return k.Type switch
        {
            KeepaliveType.Icmp => new IcmpProbe(endpoint, env.Notice),
            KeepaliveType.Tcp => new TcpProbe(endpoint),
            KeepaliveType.Ssl => new SslProbe(endpoint, env.TlsConnector, target.Tls),
            KeepaliveType.Http => new HttpProbe(endpoint, target.Address ?? endpoint.Address.ToString(), k, k.Encrypt ? env.TlsConnector : null, target.Tls),
            _ => new AlwaysAliveProbe(),
        };
    }

    internal static string Module(ProbeAttempt attempt) => attempt.Module is { } m ? $" via module {m}" : string.Empty;

    internal static string Failure(string what, Exception e) => e switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => $"{what} refused",
        SocketException s => $"{what} failed ({s.SocketErrorCode})",
        System.Security.Authentication.AuthenticationException => $"{what}: TLS handshake failed ({e.Message})",
        IOException => $"{what}: connection closed ({e.Message})",
        _ => $"{what} failed ({e.Message})",
    };
}

/// <summary>Keepalive type none: never sent, always Alive.</summary>
internal sealed class AlwaysAliveProbe : IKeepaliveProbe
{
    public Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct) => Task.FromResult(new ProbeOutcome(true, "keepalive type none"));

    public string Describe() => "keepalive type none";
}

/// <summary>A TCP connection that is opened and closed (the CSS's tcp keepalive).</summary>
internal sealed class TcpProbe(IPEndPoint endpoint) : IKeepaliveProbe
{
    public string Describe() => $"tcp connect to {endpoint}";

    public async Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, ct);
            return new ProbeOutcome(true, $"{Describe()} accepted");
        }
        catch (SocketException e)
        {
            return new ProbeOutcome(false, KeepaliveProbes.Failure(Describe(), e));
        }
    }
}

/// <summary>
/// An ICMP echo. A process that may not send ICMP (no raw sockets, no ping helper) probes with a TCP connect to the
/// keepalive port instead, and says so once.
/// </summary>
internal sealed class IcmpProbe(IPEndPoint endpoint, Action<string>? notice) : IKeepaliveProbe
{
    private static int s_noticed;
    private static volatile bool s_unavailable;

    public string Describe() => s_unavailable ? $"icmp (as tcp connect) to {endpoint}" : $"icmp echo to {endpoint.Address}";

    public async Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
    {
        if (!s_unavailable)
        {
            try
            {
                using var ping = new Ping();
                var reply = await ping.SendPingAsync(endpoint.Address, TimeSpan.FromSeconds(1), null, null, ct);
                return reply.Status == IPStatus.Success
                    ? new ProbeOutcome(true, $"icmp echo reply from {endpoint.Address}")
                    : new ProbeOutcome(false, $"icmp echo to {endpoint.Address}: {reply.Status}");
            }
            catch (Exception e) when (e is PingException or UnauthorizedAccessException or PlatformNotSupportedException or SocketException)
            {
                s_unavailable = true;
                if (Interlocked.Exchange(ref s_noticed, 1) == 0)
                    notice?.Invoke($"ICMP keepalives cannot be sent by this process ({(e.InnerException ?? e).Message}); they are sent as TCP connects to the keepalive port instead");
            }
        }
        var tcp = await new TcpProbe(endpoint).ProbeAsync(attempt, ct);
        return tcp with { Detail = "icmp unavailable: " + tcp.Detail };
    }
}

/// <summary>A full TLS handshake, then a clean close (the CSS sends an SSL Hello).</summary>
internal sealed class SslProbe(IPEndPoint endpoint, ITlsProbeConnector connector, TlsProbeOptions options) : IKeepaliveProbe
{
    public string Describe() => $"ssl handshake with {endpoint}";

    public async Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
    {
        var what = Describe() + KeepaliveProbes.Module(attempt);
        try
        {
            await using var stream = await connector.ConnectAsync(endpoint, null, options, ct);
            return new ProbeOutcome(true, $"{what} completed");
        }
        catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return new ProbeOutcome(false, KeepaliveProbes.Failure(what, e));
        }
    }
}

/// <summary>
/// HEAD or GET of the keepalive uri, in clear or over TLS (<c>http encrypt</c>). The CSS rule (Cisco tech note
/// "CSS 11000 Keepalives"): HEAD needs a 200 OK; GET needs a 200 OK and a page whose MD5 equals the reference, which
/// is the configured <c>keepalive hash</c> or else the hash of the first good page (a new reference is taken when the
/// keepalive restarts, as suspending and activating a CSS service does).
/// </summary>
internal sealed class HttpProbe(IPEndPoint endpoint, string host, KeepaliveSettings settings, ITlsProbeConnector? tls, TlsProbeOptions options) : IKeepaliveProbe
{
    private const int MaxResponseBytes = 1 << 20;
    private string? _reference = settings.Hash;

    private string Method => settings.MethodHead ? "HEAD" : "GET";

    private string Uri => string.IsNullOrEmpty(settings.Uri) ? "/" : settings.Uri!;

    public string Describe() => $"{(tls is null ? "http" : "https")} {Method} {Uri} to {endpoint}";

    public async Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
    {
        var what = Describe() + KeepaliveProbes.Module(attempt);
        try
        {
            await using var stream = tls is null ? await Plain(ct) : await tls.ConnectAsync(endpoint, null, options, ct);
            var request = $"{Method} {Uri} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sslcluster-keepalive\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct);
            await stream.FlushAsync(ct);
            var response = await ReadAsync(stream, settings.MethodHead, ct);
            var text = Encoding.Latin1.GetString(response);
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            var statusLine = text.Split("\r\n", 2)[0];
            var parts = statusLine.Split(' ', 3);
            if (parts.Length < 2 || !parts[0].StartsWith("HTTP/", StringComparison.Ordinal) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
                return new ProbeOutcome(false, $"{what}: not an HTTP response");
            if (status != 200) return new ProbeOutcome(false, $"{what}: status {status}, 200 required");
            if (settings.MethodHead) return new ProbeOutcome(true, $"{what}: 200 OK");
            var body = headEnd < 0 ? [] : response.AsSpan(headEnd + 4);
            var hash = Convert.ToHexStringLower(MD5.HashData(body));
            if (_reference is null)
            {
                _reference = hash;
                return new ProbeOutcome(true, $"{what}: 200 OK, reference hash {hash}");
            }
            return hash == _reference
                ? new ProbeOutcome(true, $"{what}: 200 OK")
                : new ProbeOutcome(false, $"{what}: page hash {hash} differs from the reference {_reference}");
        }
        catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return new ProbeOutcome(false, KeepaliveProbes.Failure(what, e));
        }
    }

    private async Task<Stream> Plain(CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads to the end of the head (HEAD) or to the close (GET, bounded); Connection: close ends it.</summary>
    private static async Task<byte[]> ReadAsync(Stream stream, bool headOnly, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        while (buffer.Length < MaxResponseBytes)
        {
            var n = await stream.ReadAsync(chunk, ct);
            if (n == 0) break;
            buffer.Write(chunk, 0, n);
            if (headOnly && buffer.GetBuffer().AsSpan(0, (int)buffer.Length).IndexOf("\r\n\r\n"u8) >= 0) break;
        }
        return buffer.ToArray();
    }
}

/// <summary>
/// The reference's <c>kal-service-check</c> / <c>ap-kal-service-check</c> script: its first argument names a service;
/// the script greps "Alive" in <c>show service</c>, so it succeeds iff that service is exactly Alive (Dying fails).
/// With <c>use-output</c> the reason is what the script echoes: "Alive" or "Down".
/// </summary>
internal sealed class ServiceCheckScriptProbe(string script, string? args, bool useOutput, IServiceHealth health) : IKeepaliveProbe
{
    private readonly string _service = args?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? string.Empty;

    public string Describe() => $"script {script} \"{args}\"";

    public Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
    {
        var state = health.StateOf(_service);
        var alive = state == ServiceHealthState.Alive;
        var detail = useOutput ? (alive ? "Alive" : "Down") : $"{Describe()}: service {_service} is {state}";
        return Task.FromResult(new ProbeOutcome(alive, detail));
    }
}

/// <summary>
/// A script of the scripts folder: run with ARGS split on spaces as its arguments, under the probe's time limit;
/// exit code 0 is alive. With <c>use-output</c> its first line of standard output is the reason shown.
/// </summary>
internal sealed class ExecutableScriptProbe(string? folder, string script, string? args, bool useOutput) : IKeepaliveProbe
{
    public string Describe() => $"script {script}";

    public async Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
    {
        if (folder is null) return new ProbeOutcome(false, $"{Describe()}: no scripts folder is configured on this node");
        if (KeepaliveScripts.FileNameProblem(script) is { } problem) return new ProbeOutcome(false, $"{Describe()}: {problem}");
        var path = Path.Combine(folder, script);
        if (!File.Exists(path)) return new ProbeOutcome(false, $"{Describe()}: no file {path}");
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var a in (args ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries)) start.ArgumentList.Add(a);
        // A script gets the node's environment but its secrets: the master key, the journal's connection string, the
        // remoting password and the admin tokens all travel in SSLCLUSTER_* and SSLCTL_* variables.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SSLCLUSTER_", StringComparison.Ordinal) || k.StartsWith("SSLCTL_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new ProbeOutcome(false, $"{Describe()}: cannot run ({e.Message})");
        }
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            // The time limit (or the keepalive's end): a hung script must not pile up.
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited meanwhile.
            }
            throw;
        }
        var output = await stdout;
        await stderr;
        var first = output.Split('\n', 2)[0].TrimEnd('\r');
        var exit = process.ExitCode;
        var detail = useOutput && first.Length > 0 ? first : $"{Describe()} exited with {exit}";
        return new ProbeOutcome(exit == 0, detail);
    }
}
