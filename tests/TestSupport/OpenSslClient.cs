using System.Diagnostics;
using System.Text;

namespace SslCluster.TestSupport;

/// <summary>Exit code and output of an external client run.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError, bool TimedOut)
{
    /// <summary>Both streams, for assertions and failure messages.</summary>
    public string AllOutput => StandardOutput + "\n--- stderr ---\n" + StandardError;
}

/// <summary>
/// Runs the real <c>openssl s_client</c> and <c>curl</c> as processes with a timeout. Only 127.0.0.1 targets are
/// ever given to them by the tests.
/// </summary>
public static class OpenSslClient
{
    /// <summary>Default time a client process gets before it is killed.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Runs <c>openssl s_client -connect 127.0.0.1:PORT</c> with extra arguments, writes <paramref name="input"/>
    /// to its stdin and closes stdin. Add <c>-ign_eof</c> to read the answer until the server closes.
    /// </summary>
    public static Task<ProcessResult> SClientAsync(int port, string arguments, string? input = null,
        TimeSpan? timeout = null, TimeSpan? holdInputOpen = null) =>
        RunAsync("openssl", $"s_client -connect 127.0.0.1:{port} {arguments}", input ?? "", timeout ?? DefaultTimeout,
            holdInputOpen);

    /// <summary>Runs <c>curl</c> with the arguments (silent, showing errors, with a max time).</summary>
    public static Task<ProcessResult> CurlAsync(string arguments, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        return RunAsync("curl", $"-sS --max-time {(int)limit.TotalSeconds} {arguments}", null, limit +
            TimeSpan.FromSeconds(5));
    }

    /// <summary>Runs a process to completion or kills it at the timeout.</summary>
    /// <param name="holdInputOpen">
    /// Keep stdin open this long after writing the input (or until the process exits): s_client obeys its
    /// interactive commands (R, Q) only without -ign_eof, and exits as soon as stdin ends.
    /// </param>
    public static async Task<ProcessResult> RunAsync(string fileName, string arguments, string? input,
        TimeSpan timeout, TimeSpan? holdInputOpen = null)
    {
        using var process = new Process();
        process.StartInfo = new ProcessStartInfo(fileName, arguments)
        {
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stdout)
                {
                    stdout.AppendLine(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            await process.StandardInput.FlushAsync();
            if (holdInputOpen is { } hold)
            {
                try
                {
                    await process.WaitForExitAsync().WaitAsync(hold);
                }
                catch (TimeoutException)
                {
                    // Still running after the hold: end its input now.
                }
            }

            if (!process.HasExited)
            {
                process.StandardInput.Close();
            }
        }

        bool timedOut = false;
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        // WaitForExitAsync waits for the redirected streams to reach EOF as well.
        lock (stdout)
        {
            lock (stderr)
            {
                return new ProcessResult(timedOut ? -1 : process.ExitCode, stdout.ToString(), stderr.ToString(),
                    timedOut);
            }
        }
    }
}
