using Akka.Actor;
using Akka.Configuration;
using Npgsql;
using SslCluster.Actors.ConfigStore;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>
/// One node at a time creates the journal's tables in an empty PostgreSQL database (<see cref="JournalSchemaGate"/>),
/// against a real PostgreSQL and the real journal plugin.
/// </summary>
public sealed class JournalSchemaGateTests
{
    private static Config PostgresJournal(string connection) => ConfigurationFactory.ParseString($$"""
        akka.persistence.journal.plugin = "akka.persistence.journal.sql"
        akka.persistence.journal.sql {
          class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
          connection-string = "{{connection}}"
          provider-name = "PostgreSQL.15"
          auto-initialize = true
        }
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
        akka.persistence.snapshot-store.sql {
          class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
          connection-string = "{{connection}}"
          provider-name = "PostgreSQL.15"
          auto-initialize = true
        }
        """);

    [Fact]
    public async Task EnterAsync_EmptyDatabase_OneHoldsTheLockAnotherWaitsAndFindsTheTablesItsJournalMade()
    {
        var config = PostgresJournal(TestPostgres.NewDatabase());
        await using var first = await JournalSchemaGate.EnterAsync(config, TimeSpan.FromSeconds(30));
        Assert.Equal(GateOutcome.Creating, first.Outcome);
        Assert.True(first.Holds);

        var second = JournalSchemaGate.EnterAsync(config, TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(second.IsCompleted, "a second node must wait while the first holds the lock");

        // The first node's journal plugin starts (the warm-up actor's recovery) and creates the tables; then it lets go.
        var system = ActorSystem.Create("gate", config);
        try
        {
            var ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            system.ActorOf(JournalWarmUpActor.Props(ready));
            Assert.True(await ready.Task.WaitAsync(TimeSpan.FromSeconds(60)), "the journal plugin did not start");
        }
        finally
        {
            await system.Terminate();
        }

        Assert.False(second.IsCompleted, "still held until the first gives it back");
        await first.DisposeAsync();
        await using var waited = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(GateOutcome.MadeByAnother, waited.Outcome);
        Assert.False(waited.Holds);
        Assert.True(waited.Waited >= TimeSpan.FromSeconds(1));

        // The tables the plugin made are the ones the gate looks for: a later start takes no lock at all.
        await using var later = await JournalSchemaGate.EnterAsync(config, TimeSpan.FromSeconds(5));
        Assert.Equal(GateOutcome.TablesExist, later.Outcome);
        Assert.Equal(0, await AdvisoryLocksAsync(config));
    }

    [Fact]
    public async Task EnterAsync_HolderKeepsTheLockLongerThanTheWait_GoesOnWithoutIt()
    {
        var config = PostgresJournal(TestPostgres.NewDatabase());
        await using var holder = await JournalSchemaGate.EnterAsync(config, TimeSpan.FromSeconds(30));
        Assert.True(holder.Holds);

        await using var impatient = await JournalSchemaGate.EnterAsync(config, TimeSpan.FromMilliseconds(600));

        Assert.Equal(GateOutcome.WaitedTooLong, impatient.Outcome);
        Assert.False(impatient.Holds);
        Assert.Equal(1, await AdvisoryLocksAsync(config));
    }

    [Fact]
    public async Task DisposeAsync_HolderGone_TheLockIsFreeForTheNext()
    {
        var config = PostgresJournal(TestPostgres.NewDatabase());
        var holder = await JournalSchemaGate.EnterAsync(config, TimeSpan.FromSeconds(30));
        await holder.DisposeAsync();
        Assert.Equal(0, await AdvisoryLocksAsync(config));

        // No table was made meanwhile: the next node finds them missing and takes the lock itself, at once.
        await using var next = await JournalSchemaGate.EnterAsync(config, TimeSpan.FromSeconds(1));
        Assert.Equal(GateOutcome.Creating, next.Outcome);
        Assert.True(next.Waited < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task EnterAsync_SqliteJournal_TakesNoLockAndTouchesNoDatabase()
    {
        var config = ConfigurationFactory.ParseString("""
            akka.persistence.journal.sql.provider-name = "SQLite.MS"
            akka.persistence.journal.sql.connection-string = "Data Source=/nonexistent/journal.db"
            """);
        await using var gate = await JournalSchemaGate.EnterAsync(config, TimeSpan.FromSeconds(1));
        Assert.Equal(GateOutcome.NotPostgres, gate.Outcome);
        Assert.False(JournalSchemaGate.AppliesTo(config));
    }

    [Fact]
    public void TableNames_DefaultAndConfiguredMapping_NamesTheTablesThePluginMakes()
    {
        Assert.Equal([("", "journal"), ("", "tags"), ("", "snapshot")], JournalSchemaGate.TableNames(ConfigurationFactory.Empty));
        var configured = ConfigurationFactory.ParseString("""
            akka.persistence.journal.sql.table-mapping = postgresql
            akka.persistence.journal.sql.postgresql.schema-name = ops
            akka.persistence.journal.sql.postgresql.journal.table-name = EventJournal
            akka.persistence.journal.sql.postgresql.tag.table-name = event_tags
            akka.persistence.journal.sql.delete-compatibility-mode = true
            akka.persistence.snapshot-store.sql.table-mapping = postgresql
            akka.persistence.snapshot-store.sql.postgresql.snapshot.table-name = snapshot_store
            """);
        Assert.Equal([("ops", "EventJournal"), ("ops", "event_tags"), ("ops", "metadata"), ("public", "snapshot_store")],
            JournalSchemaGate.TableNames(configured));
    }

    [Fact]
    public void TableNames_TagsInTheJournalAndSnapshotsElsewhere_OnlyTheJournalTable()
    {
        var config = ConfigurationFactory.ParseString("""
            akka.persistence.journal.sql.connection-string = "Host=a;Database=journal"
            akka.persistence.journal.sql.tag-write-mode = Csv
            akka.persistence.snapshot-store.sql.connection-string = "Host=b;Database=snapshots"
            """);
        Assert.Equal([("", "journal")], JournalSchemaGate.TableNames(config));
    }

    /// <summary>Advisory locks held on the gate's key in the test's database (whoever holds them).</summary>
    private static async Task<long> AdvisoryLocksAsync(Config config)
    {
        await using var connection = new NpgsqlConnection(config.GetString("akka.persistence.journal.sql.connection-string"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
