using System.Diagnostics;
using System.Globalization;

namespace SslCluster.TestSupport;

/// <summary>
/// The PostgreSQL of the cluster tests: the one <c>./test.sh</c> started (<c>SSLCLUSTER_TEST_POSTGRES</c>), or, when
/// a test runs alone, a private one started here with <c>scripts/test-postgres.sh</c> and stopped when the test
/// process exits. Each caller gets a database of its own, so tests never see each other's journals.
/// </summary>
public static class TestPostgres
{
    private static readonly Lazy<string> Server = new(StartServer, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databases;

    /// <summary>A connection string to a new, empty database.</summary>
    public static string NewDatabase()
    {
        var server = Server.Value;
        var name = $"t{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}_{DateTime.UtcNow.Ticks % 1_000_000}";
        var builder = ToPsql(server);
        Run("psql", $"{builder} -v ON_ERROR_STOP=1 -c \"CREATE DATABASE {name}\"");
        return Replace(server, "Database", name);
    }

    private static string StartServer()
    {
        var configured = Environment.GetEnvironmentVariable("SSLCLUSTER_TEST_POSTGRES");
        if (!string.IsNullOrEmpty(configured)) return configured;
        var script = Path.Combine(RepoPaths.Root, "scripts", "test-postgres.sh");
        var env = new Dictionary<string, string> { ["SSLCLUSTER_PG_DIR"] = $"/tmp/sslcluster-pg-{Environment.ProcessId}", ["SSLCLUSTER_PG_PORT"] = "55433" };
        var connection = Run(script, "start", env).Trim().Split('\n')[^1];
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Run(script, "stop", env);
        return connection;
    }

    private static string ToPsql(string connection)
    {
        string Get(string key) => connection.Split(';').Select(p => p.Split('=', 2)).First(p => p[0].Equals(key, StringComparison.OrdinalIgnoreCase))[1];
        return string.Create(CultureInfo.InvariantCulture, $"\"host={Get("Host")} port={Get("Port")} user={Get("Username")} dbname={Get("Database")}\"");
    }

    private static string Replace(string connection, string key, string value) =>
        string.Join(';', connection.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.StartsWith(key + "=", StringComparison.OrdinalIgnoreCase) ? $"{key}={value}" : p));

    private static string Run(string file, string arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("bash", ["-c", $"{file} {arguments}"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) p.Kill(true);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {arguments} failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
