using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.TestSupport;

/// <summary>
/// The real <c>openssl ocsp</c> responder on 127.0.0.1, answering from an index.txt (the format of <c>openssl ca</c>),
/// signing as the given CA or delegated responder. Killed on dispose.
/// </summary>
public sealed class OpenSslOcspResponder : IDisposable
{
    private readonly Process _process;

    private OpenSslOcspResponder(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    /// <summary>Where it listens.</summary>
    public int Port { get; }

    /// <summary>Its URL, as a configuration or a certificate's AIA names it.</summary>
    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>
    /// Starts the responder in <paramref name="folder"/> with <paramref name="indexLines"/>; returned once it listens.
    /// Its answers hold for <paramref name="minutes"/> (nextUpdate); 0 gives answers without a nextUpdate.
    /// </summary>
    public static async Task<OpenSslOcspResponder> StartAsync(string folder, X509Certificate2 signer, string signerKeyPem, string indexLines,
        int minutes = 10, int? port = null)
    {
        var signerPem = Path.Combine(folder, "ocsp-signer.pem");
        var keyPem = Path.Combine(folder, "ocsp-signer.key");
        var index = Path.Combine(folder, "index.txt");
        await File.WriteAllTextAsync(signerPem, signer.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPem, signerKeyPem);
        await File.WriteAllTextAsync(index, indexLines);
        // A free port can be taken by another test between the probe and openssl's bind: then openssl exits, and the
        // port's listener is someone else's. So the listener must be openssl's own socket, or another port is tried.
        for (var attempt = 0; ; attempt++)
        {
            var chosen = port ?? FreePort();
            string[] arguments = ["ocsp", "-index", index, "-port", chosen.ToString(CultureInfo.InvariantCulture), "-rsigner", signerPem, "-rkey", keyPem, "-CA", signerPem];
            var process = Process.Start(new ProcessStartInfo("openssl", minutes > 0 ? [.. arguments, "-nmin", minutes.ToString(CultureInfo.InvariantCulture)] : arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            try
            {
                await WaitListeningAsync(chosen, process);
                return new OpenSslOcspResponder(process, chosen);
            }
            catch (Exception) when (port is null && attempt < 4)
            {
                Stop(process);
            }
            catch
            {
                Stop(process);
                throw;
            }
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already ended.
        }

        process.Dispose();
    }

    /// <summary>
    /// An index.txt line for <paramref name="certificate"/>: valid, or revoked at <paramref name="revokedAt"/>. The serial
    /// is written as <c>openssl ocsp</c> looks it up (upper-case hex of the integer, whole bytes).
    /// </summary>
    public static string IndexLine(X509Certificate2 certificate, DateTimeOffset? revokedAt = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var serial = new System.Numerics.BigInteger(certificate.GetSerialNumber(), isUnsigned: true, isBigEndian: false).ToString("X", CultureInfo.InvariantCulture).TrimStart('0');
        if (serial.Length == 0) serial = "00";
        if (serial.Length % 2 == 1) serial = "0" + serial;
        var expiry = certificate.NotAfter.ToUniversalTime().ToString("yyMMddHHmmss", CultureInfo.InvariantCulture) + "Z";
        var revoked = revokedAt is { } at ? at.UtcDateTime.ToString("yyMMddHHmmss", CultureInfo.InvariantCulture) + "Z" : "";
        return $"{(revokedAt is null ? "V" : "R")}\t{expiry}\t{revoked}\t{serial}\tunknown\t/CN=test\n";
    }

    /// <summary>A loopback port free now.</summary>
    public static int FreePort() => Ports.Free();

    /// <summary>
    /// Waits until the port is in LISTEN state (/proc/net/tcp), without connecting: openssl ocsp serves one connection
    /// at a time and would wait on a probe's. With <paramref name="owner"/>, the listening socket must be one of its
    /// descriptors (not another process's on the same port).
    /// </summary>
    public static async Task WaitListeningAsync(int port, Process? owner = null)
    {
        var hexPort = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        for (int i = 0; i < 100; i++)
        {
            if (owner is { HasExited: true })
            {
                throw new InvalidOperationException($"openssl ocsp exited before it listened on {port}");
            }

            var lines = (await File.ReadAllLinesAsync("/proc/net/tcp")).Concat(await File.ReadAllLinesAsync("/proc/net/tcp6"));
            var inodes = lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length > 9 && f[3] == "0A" && f[1].EndsWith(hexPort, StringComparison.Ordinal))
                .Select(f => "socket:[" + f[9] + "]").ToHashSet(StringComparer.Ordinal);
            if (inodes.Count > 0 && (owner is null || OwnsOneOf(owner, inodes)))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"openssl ocsp did not listen on {port}");
    }

    private static bool OwnsOneOf(Process process, HashSet<string> sockets)
    {
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{process.Id}/fd"))
            {
                if (new FileInfo(fd).LinkTarget is { } target && sockets.Contains(target))
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process ended meanwhile.
        }

        return false;
    }

    public void Dispose() => Stop(_process);
}
