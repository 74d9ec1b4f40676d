using System.Security.Cryptography;
using Akka.Actor;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using SslCluster.Actors;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Demo;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Runtime;
using SslCluster.Protocol.Tls;

namespace SslCluster.Node;

/// <summary>A start-up problem an operator can fix: printed without a stack trace, exit code 1.</summary>
internal sealed class NodeStartupException(string message) : Exception(message);

/// <summary>
/// Runs one node: data folder, journal, master key and admin token; the actor system; the admin endpoint; the demo
/// when asked. Ends when the actor system terminates (Ctrl-C or SIGTERM run Akka's coordinated shutdown).
/// </summary>
internal static class NodeHost
{
    /// <summary>The environment variable that gives the admin token when the configuration does not.</summary>
    public const string AdminTokenVariable = "SSLCLUSTER_ADMIN_TOKEN";

    /// <summary>When the data-path warm-up stops whatever it has done (it takes about a second on two cores).</summary>
    private static readonly TimeSpan WarmUpLimit = TimeSpan.FromSeconds(10);

    /// <summary>How long a node waits for another's schema lock, and holds its own at most (<see cref="JournalSchemaGate"/>).</summary>
    private static readonly TimeSpan SchemaGateWait = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(Config overrides)
    {
        var config = overrides.WithFallback(SslClusterSettings.Reference);
        SslClusterSettings settings;
        AddressMap addresses;
        AdminListen listen;
        try
        {
            settings = SslClusterSettings.Create(config);
            addresses = AddressMap.Parse(settings.AddressMap);
            ClusterFormation.Resolve(config);
            listen = AdminListen.Resolve(settings.AdminHost, settings.AdminPort, settings.AdminTlsCertificate);
        }
        catch (Exception e) when (e is ConfigurationException or FormatException)
        {
            throw new NodeStartupException($"bad setting: {e.Message}");
        }
        // Before anything starts: a certificate that cannot serve stops the node here, never an HTTP endpoint instead.
        using var adminTls = listen.Tls ? AdminTls.Load(listen.Certificate, Environment.GetEnvironmentVariable(AdminTls.PasswordVariable) ?? "", DateTimeOffset.UtcNow) : null;

        NodeLog.Configure(config.GetString("sslcluster.node.log.format", "text"), config.GetString("sslcluster.node.log.akka-level", "WARNING"));
        // Every log event of the actor system goes through the node's writer (text for a person, or JSON lines).
        config = ConfigurationFactory.ParseString("akka.loggers = [\"SslCluster.Node.NodeLogger, sslnode\"]").WithFallback(config);
        var dataDir = Path.GetFullPath(settings.DataDir);
        try
        {
            Directory.CreateDirectory(dataDir);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new NodeStartupException($"cannot create the data folder '{dataDir}' (--data-dir): {e.Message}");
        }
        config = JournalSettings(dataDir, config).WithFallback(config);
        using var masterKey = LoadMasterKey(dataDir);
        // The admin token: configured, else from the environment (a Kubernetes Secret), else the data folder's file.
        var fromEnvironment = Environment.GetEnvironmentVariable(AdminTokenVariable);
        var tokenFile = Path.Combine(dataDir, AdminPaths.TokenFileName);
        var (token, tokenSource) = settings.AdminToken.Length > 0 ? (settings.AdminToken, "sslcluster.node.admin.token")
            : fromEnvironment is { Length: > 0 } ? (fromEnvironment.Trim(), AdminTokenVariable)
            : (await LoadOrCreateTokenAsync(tokenFile), tokenFile);
        var tokens = await LoadTokensAsync(settings.AdminTokensFile, dataDir);

        // So that the node's first clients meet compiled code (DataPathWarmUp), listeners accept once this has completed.
        // With two cores or more it runs beside the cluster's start (listeners bind as soon as their configuration is in
        // force): the first client is served about 0.3 s sooner on two cores. On one core the two would share it and
        // the first client came 0.2-0.8 s later than with one after the other, so there it runs first (docs/benchmarks.md,
        // "A node warm before its first client").
        var warm = settings.WarmUpConnections > 0 ? Task.Run(() => WarmUpAsync(settings.WarmUpConnections)) : Task.CompletedTask;
        if (Environment.ProcessorCount == 1) await warm;

        var health = new ServiceHealthTable();
        var sessions = new TlsSessionCluster(new ReplicatedTlsSessionStore(masterKey, TimeProvider.System, settings.SessionCacheSize),
            settings.SessionTickets ? new SessionTicketKeys(TimeProvider.System) : null, masterKey);
        using var loggers = new NodeLoggerProvider();
        using var dataPlane = new DataPlane(masterKey, addresses, settings.BackendConnectTimeout,
            sessions.Store, tickets: sessions.Tickets)
        {
            Health = health,
            Passive = new PassiveHealth(TimeProvider.System, settings.PassiveHealthFailures, settings.PassiveHealthAvoidFor),
            Limits = new NodeLimits(settings.Limits, TimeProvider.System),
            Log = new ConnectionLog(loggers.CreateLogger("SslCluster.Connections"), TimeProvider.System),
            FramesHttpByFirstBytes = settings.FrameHttpByFirstBytes,
            Warm = warm,
        };
        var keepalives = new KeepaliveEnvironment
        {
            AddressMap = addresses,
            TlsConnector = dataPlane,
            ScriptsFolder = Path.Combine(dataDir, "scripts"),
        };
        var schemaGate = await EnterSchemaGateAsync(config);
        SslClusterHandles handles;
        try
        {
            handles = SslClusterHost.Start(config, dataPlane, (key, cert) => DataPlane.CheckKeyAndCertificate(key.Payload, cert.Payload),
                TimeProvider.System, health, keepalives, sessions);
        }
        catch
        {
            if (schemaGate is not null) await schemaGate.DisposeAsync();
            throw;
        }

        var schemaGateGone = schemaGate is null ? Task.CompletedTask : LeaveSchemaGateAsync(schemaGate, handles.JournalReady);
        var ssl = new SslCommands(handles, masterKey, TimeProvider.System);
        NodeLog.Node = Akka.Cluster.Cluster.Get(handles.System).SelfAddress.ToString();

        await using var management = handles.Formation == FormationMethod.Seeds ? null : await StartManagementAsync(handles, dataPlane);
        DemoHttpServer? demoBackend = null;
        await using var admin = AdminEndpoint.Build(handles, listen, adminTls, token, ssl, dataPlane, tokens);
        try
        {
            await admin.StartAsync();
        }
        catch (IOException e)
        {
            await handles.System.Terminate();
            throw new NodeStartupException($"cannot open the admin endpoint on {listen.Url}: {e.Message}");
        }

        if (settings.DemoEnabled)
        {
            demoBackend = await Demo.StartAsync(handles, ssl, settings, addresses);
        }

        // Ctrl-C runs the same coordinated shutdown as SIGTERM (which Akka handles itself on .NET 10).
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            _ = CoordinatedShutdown.Get(handles.System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        };
        NodeLog.Info($"sslnode: node {NodeLog.Node}; admin endpoint {listen.Url} (token in {tokenSource}); data in {dataDir}{(OperatingSystem.IsLinux() ? MallocArenas(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX")) : "")}");
        await handles.System.WhenTerminated;
        await schemaGateGone;
        await admin.StopAsync();
        if (demoBackend is not null) await demoBackend.DisposeAsync();
        NodeLog.Info("sslnode: stopped");
        return 0;
    }

    /// <summary>
    /// Runs the data path's warm-up and logs what it did. Never throws: a failure is the warm-up's own (its key, its
    /// loopback ports), and the node starts regardless.
    /// </summary>
    private static async Task WarmUpAsync(int connections)
    {
        try
        {
            var warm = await DataPathWarmUp.RunAsync(connections, WarmUpLimit);
            NodeLog.Info(warm.Complete ? $"sslnode: data path warmed up: {warm}"
                : $"sslnode: data path warm-up did not complete (the node starts all the same): {warm}");
        }
#pragma warning disable CA1031 // The warm-up is an optimization: whatever it throws, the node starts without it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            NodeLog.Info($"sslnode: data path warm-up failed (the node starts all the same): {e.Message}");
        }
    }

    /// <summary>
    /// On PostgreSQL, one node at a time creates the journal's tables (<see cref="JournalSchemaGate"/>); null when this
    /// node holds no lock. A database it cannot reach is logged: the node starts, and its journal retries as without the gate.
    /// </summary>
    private static async Task<JournalSchemaGate?> EnterSchemaGateAsync(Config config)
    {
        try
        {
            var gate = await JournalSchemaGate.EnterAsync(config, SchemaGateWait);
            switch (gate.Outcome)
            {
                case GateOutcome.Creating:
                    NodeLog.Info($"sslnode: the journal's tables are missing: this node creates them, holding the schema lock (waited {gate.Waited.TotalSeconds:0.0} s)");
                    break;
                case GateOutcome.MadeByAnother:
                    NodeLog.Info($"sslnode: the journal's tables were created by another node while this one waited {gate.Waited.TotalSeconds:0.0} s for the schema lock");
                    break;
                case GateOutcome.WaitedTooLong:
                    NodeLog.Info($"sslnode: another node held the journal's schema lock for more than {SchemaGateWait.TotalSeconds:0} s: starting without it");
                    break;
            }

            return gate.Holds ? gate : null;
        }
#pragma warning disable CA1031 // The gate only orders the first start on a new database: whatever fails, the node starts without it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            NodeLog.Info($"sslnode: could not check the journal's tables in PostgreSQL ({e.GetType().Name}: {e.Message}): starting without the schema lock");
            return null;
        }
    }

    /// <summary>Gives the schema lock back once the node's journal plugin has started (or failed to, or after the wait).</summary>
    private static async Task LeaveSchemaGateAsync(JournalSchemaGate gate, Task<bool> journalReady)
    {
        await using (gate)
        {
            try
            {
                var started = await journalReady.WaitAsync(SchemaGateWait);
                NodeLog.Info(started ? "sslnode: the journal's tables are ready: schema lock released"
                    : "sslnode: the journal did not start: schema lock released (another node may create the tables)");
            }
            catch (TimeoutException)
            {
                NodeLog.Info($"sslnode: the journal did not start within {SchemaGateWait.TotalSeconds:0} s: schema lock released");
            }
        }
    }

    private static async Task<Microsoft.AspNetCore.Builder.WebApplication> StartManagementAsync(SslClusterHandles handles, DataPlane dataPlane)
    {
        try
        {
            return await ManagementEndpoint.StartAsync(handles, dataPlane);
        }
        catch (NodeStartupException)
        {
            await handles.System.Terminate();
            throw;
        }
    }

    /// <summary>The SQLite journal in the data folder, in WAL mode so that a kill -9 never corrupts it.</summary>
    private static Config JournalSettings(string dataDir, Config config)
    {
        if (config.GetString("akka.persistence.journal.sql.connection-string").Length > 0) return ConfigurationFactory.Empty;
        var path = Path.Combine(dataDir, "journal.db");
        var connection = $"Data Source={path}";
        using (var db = new SqliteConnection(connection))
        {
            db.Open();
            using var pragma = db.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL;";
            pragma.ExecuteNonQuery();
        }
        var quoted = "\"" + connection.Replace("\\", "\\\\", StringComparison.Ordinal) + "\"";
        return ConfigurationFactory.ParseString($"""
            akka.persistence.journal.sql.connection-string = {quoted}
            akka.persistence.snapshot-store.sql.connection-string = {quoted}
            """);
    }

    private static MasterKey LoadMasterKey(string dataDir)
    {
        var fromEnv = Environment.GetEnvironmentVariable("SSLCLUSTER_MASTER_KEY");
        try
        {
            return string.IsNullOrEmpty(fromEnv) ? MasterKey.LoadOrCreate(Path.Combine(dataDir, "master.key")) : MasterKey.FromBase64(fromEnv);
        }
        catch (PkiException e)
        {
            throw new NodeStartupException(e.Message);
        }
    }

    /// <summary>The tokens file: the one configured, else DATA-DIR/admin-tokens when it exists; none otherwise.</summary>
    private static async Task<AdminTokens> LoadTokensAsync(string configured, string dataDir)
    {
        var path = configured.Length > 0 ? Path.GetFullPath(configured) : Path.Combine(dataDir, AdminTokens.FileName);
        if (!File.Exists(path))
        {
            if (configured.Length > 0) throw new NodeStartupException($"node.admin.tokens-file: '{path}' does not exist");
            return AdminTokens.None;
        }

        // Tokens are secrets: a file others can read is refused rather than trusted.
        if ((File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            throw new NodeStartupException($"admin tokens file '{path}' can be read or written by other users; make it private (chmod 600 {path})");
        try
        {
            return AdminTokens.Parse(await File.ReadAllTextAsync(path), path);
        }
        catch (FormatException e)
        {
            throw new NodeStartupException(e.Message);
        }
    }

    private static async Task<string> LoadOrCreateTokenAsync(string path)
    {
        if (File.Exists(path)) return (await File.ReadAllTextAsync(path)).Trim();
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        await PrivateFile.WriteTextAsync(path, token);
        return token;
    }

    /// <summary>
    /// What the start line says of MALLOC_ARENA_MAX (its value given). glibc reads it only when the process starts, so
    /// the node cannot set it for itself: its launchers do (run.sh, the container image). Said at start, so that an
    /// operator starting the node another way sees it.
    /// </summary>
    internal static string MallocArenas(string? variable) =>
        variable switch
        {
            { Length: > 0 } arenas when int.TryParse(arenas, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
                => $"; malloc arenas {n}",
            { Length: > 0 } arenas => $"; malloc arenas: the C library's default (MALLOC_ARENA_MAX '{arenas}' is not a positive number, which glibc ignores)",
            _ => "; malloc arenas: the C library's default (with glibc, MALLOC_ARENA_MAX=2 holds about 1 KiB less per idle connection: docs/configuration.md)",
        };
}
