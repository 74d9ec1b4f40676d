using System.Diagnostics;
using Akka.Configuration;
using Npgsql;

namespace SslCluster.Actors.ConfigStore;

/// <summary>
/// One node at a time creates the journal's tables in an empty PostgreSQL database. Akka.Persistence.Sql creates them
/// itself when its plugin starts (<c>auto-initialize</c>), with <c>CREATE TABLE IF NOT EXISTS</c>, which PostgreSQL does
/// not make safe between sessions: two nodes starting together on a new database can both find a table missing, and the
/// second one's create then fails on the catalogue's unique index, failing that node's first journal requests. So a node that finds
/// a table missing takes a PostgreSQL advisory lock (the same key on every node) before its actor system starts, and
/// gives it back once its own journal plugin has started (the journal warm-up's recovery); a node that waited finds the
/// tables made and goes on. When every table is there (every start but the first), no lock is taken. The lock is the
/// session's (on a connection of its own, outside the plugin's pool), so a node that dies holding it releases it with
/// its connection. The plugin retries a failed creation after a second (<c>initialization-retry-delay</c>), so losing
/// the race would cost a warning, a second and the first recoveries on that node; with the gate nothing fails.
/// </summary>
public sealed class JournalSchemaGate : IAsyncDisposable
{
    /// <summary>The advisory lock's key: "sslcluster journal schema" in 64 bits, the same on every node.</summary>
    public const long LockKey = 0x73736C6A726E6C31;

    private NpgsqlConnection? _connection;

    private JournalSchemaGate(NpgsqlConnection? connection, GateOutcome outcome, TimeSpan waited)
    {
        _connection = connection;
        Outcome = outcome;
        Waited = waited;
    }

    /// <summary>What the gate found and did.</summary>
    public GateOutcome Outcome { get; }

    /// <summary>How long the node waited for another node's lock.</summary>
    public TimeSpan Waited { get; }

    /// <summary>The gate holds the lock: this node's journal plugin creates the tables.</summary>
    public bool Holds => Volatile.Read(ref _connection) is not null;

    /// <summary>
    /// The tables the journal plugin creates for <paramref name="config"/> in the journal's database, as (schema, name),
    /// schema "" for the connection's own: its table mapping's journal table, the tag table unless tags are written
    /// in the journal (<c>tag-write-mode = Csv</c>), the metadata table in <c>delete-compatibility-mode</c>, and the
    /// snapshot store's table when the snapshot store shares the journal's database. Names not configured are the
    /// plugin's own defaults.
    /// </summary>
    public static IReadOnlyList<(string Schema, string Name)> TableNames(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config = config.WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        (string, string) Table(string plugin, string table)
        {
            var mapping = config.GetString($"{plugin}.table-mapping", "default");
            var schema = config.GetString($"{plugin}.{mapping}.schema-name", null);
            return (string.IsNullOrEmpty(schema) || schema == "null" ? "" : schema, config.GetString($"{plugin}.{mapping}.{table}.table-name"));
        }

        const string Journal = "akka.persistence.journal.sql", Snapshots = "akka.persistence.snapshot-store.sql";
        var tables = new List<(string, string)> { Table(Journal, "journal") };
        if (!config.GetString($"{Journal}.tag-write-mode", "TagTable").Equals("Csv", StringComparison.OrdinalIgnoreCase))
        {
            tables.Add(Table(Journal, "tag"));
        }

        if (config.GetBoolean($"{Journal}.delete-compatibility-mode", false))
        {
            tables.Add(Table(Journal, "metadata"));
        }

        if (config.GetString($"{Snapshots}.connection-string", "") == config.GetString($"{Journal}.connection-string", ""))
        {
            tables.Add(Table(Snapshots, "snapshot"));
        }

        return tables;
    }

    /// <summary>True when the node's journal is PostgreSQL (the only store several nodes share).</summary>
    public static bool AppliesTo(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.GetString("akka.persistence.journal.sql.provider-name", "").StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase)
            && config.GetString("akka.persistence.journal.sql.connection-string", "").Length > 0;
    }

    /// <summary>
    /// Checks the tables, and takes the lock when one is missing, waiting up to <paramref name="wait"/> for a node that
    /// holds it (then goes on without it, as before the gate: its outcome says so). Errors reaching PostgreSQL are the
    /// caller's (the journal would fail the same way).
    /// </summary>
    public static async Task<JournalSchemaGate> EnterAsync(Config config, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!AppliesTo(config))
        {
            return new JournalSchemaGate(null, GateOutcome.NotPostgres, TimeSpan.Zero);
        }

        var tables = TableNames(config);
        // A connection of its own, not from the pool the plugin shares: closing it ends the session, and the lock with it.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(config.GetString("akka.persistence.journal.sql.connection-string"))
        {
            Pooling = false,
            Timeout = 5,
            CommandTimeout = 10,
        }.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (await AllExistAsync(connection, tables, cancellationToken))
            {
                await connection.DisposeAsync();
                return new JournalSchemaGate(null, GateOutcome.TablesExist, TimeSpan.Zero);
            }

            var started = Stopwatch.GetTimestamp();
            while (!await TryLockAsync(connection, cancellationToken))
            {
                if (Stopwatch.GetElapsedTime(started) >= wait)
                {
                    await connection.DisposeAsync();
                    return new JournalSchemaGate(null, GateOutcome.WaitedTooLong, Stopwatch.GetElapsedTime(started));
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }

            var waited = Stopwatch.GetElapsedTime(started);
            if (await AllExistAsync(connection, tables, cancellationToken))
            {
                // Made by the node that held the lock while this one waited.
                await UnlockAsync(connection);
                await connection.DisposeAsync();
                return new JournalSchemaGate(null, GateOutcome.MadeByAnother, waited);
            }

            return new JournalSchemaGate(connection, GateOutcome.Creating, waited);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Gives the lock back (closing its session), if held; once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _connection, null) is not { } connection)
        {
            return;
        }

        try
        {
            await UnlockAsync(connection);
        }
#pragma warning disable CA1031 // A broken session cannot hold the lock: closing it (unpooled) releases it all the same.
        catch (Exception)
        {
        }

        try
        {
            await connection.DisposeAsync();
        }
        catch (Exception)
        {
            // Closing an unpooled connection ends its session, which releases the lock, whatever this reports.
        }
#pragma warning restore CA1031
    }

    /// <summary>Every table exists, under its exact name (the plugin quotes its identifiers) and schema.</summary>
    private static async Task<bool> AllExistAsync(NpgsqlConnection connection, IReadOnlyList<(string Schema, string Name)> tables,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT count(*) = cardinality($1::text[]) FROM unnest($1::text[], $2::text[]) AS t(s, n)
            WHERE EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                          WHERE c.relname = t.n AND ns.nspname = coalesce(nullif(t.s, ''), current_schema()))
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = tables.Select(t => t.Schema).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = tables.Select(t => t.Name).ToArray() });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = LockKey });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task UnlockAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = LockKey });
        await command.ExecuteScalarAsync();
    }
}

/// <summary>What <see cref="JournalSchemaGate"/> found.</summary>
public enum GateOutcome
{
    /// <summary>The journal is not PostgreSQL (SQLite is the node's own): nothing to guard.</summary>
    NotPostgres,

    /// <summary>Every table is there: no lock taken.</summary>
    TablesExist,

    /// <summary>A table is missing: this node holds the lock and its journal plugin creates them.</summary>
    Creating,

    /// <summary>Another node held the lock and made the tables while this one waited.</summary>
    MadeByAnother,

    /// <summary>Another node held the lock longer than the wait: this node goes on without it.</summary>
    WaitedTooLong,
}
