using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Hosting;
using OrleansScheduler.Grains.Catalog;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Support;
using Xunit.Abstractions;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>Orleans' ADO.NET grain storage on SQLite (AddAdoNetGrainStorage with Invariant
/// "System.Data.SQLite", which Orleans maps to Microsoft.Data.Sqlite) on
/// sql/sqlite/0004_orleans_persistence.sql. The file is opened the way production opens it: by
/// this project's SqliteDatabase, which switches it to WAL and applies the migrations, and which
/// keeps its own writer running beside Orleans.</summary>
[Collection(OrleansSilosCollection.Name)]
public sealed class SqliteGrainStorageTests(TempFolder folder, ITestOutputHelper output)
    : GrainStorageContract(output), IClassFixture<TempFolder>
{
    /// <summary>The connection string Orleans gets: the one production gives it
    /// (<see cref="SqliteDatabase.SharedConnectionString"/>: pooled, and a 30 s default command
    /// timeout, which is also how long Microsoft.Data.Sqlite keeps retrying a busy database, so an
    /// Orleans write waits for our writer to commit instead of failing with SQLITE_BUSY).</summary>
    public static string ForOrleans(string path) => Open(path).SharedConnectionString;

    private static SqliteDatabase Open(string path) =>
        new(new OrleansScheduler.Grains.Storage.StorageOptions { DatabaseUrl = path }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);

    protected override async Task<StorageUnderTest> StartAsync(string test) => await StartSqliteAsync(test);

    [Fact]
    public async Task Orleans_writes_wait_for_a_write_lock_held_elsewhere_and_then_succeed()
    {
        await using var under = await StartSqliteAsync(nameof(Orleans_writes_wait_for_a_write_lock_held_elsewhere_and_then_succeed));
        Assert.Equal("wal", await under.ScalarAsync<string>("PRAGMA journal_mode"));
        var grain = under.Silo.Grains.GetGrain<IGuidStateProbeGrain>(Guid.NewGuid());
        await grain.Read();

        // Another connection holds the write lock, as the store's writer does during a commit.
        await using (var holder = new SqliteConnection(ForOrleans(under.Path)))
        {
            await holder.OpenAsync();
            using var transaction = holder.BeginTransaction(deferred: false);
            var write = grain.Write("after the lock");

            // Bounded check that the write is held up by the lock (not a wait for a condition:
            // there is nothing to observe while SQLite retries).
            Assert.NotSame(write, await Task.WhenAny(write, Task.Delay(TimeSpan.FromMilliseconds(500))));
            transaction.Commit();
            var written = await write.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("1", written.ETag);
        }

        Assert.Equal(1L, await under.CountAsync("version = 1 AND payload IS NOT NULL"));
    }

    [Fact]
    public async Task Orleans_and_the_task_store_write_the_same_file_at_the_same_time()
    {
        await using var under = await StartSqliteAsync(nameof(Orleans_and_the_task_store_write_the_same_file_at_the_same_time));
        var grains = Enumerable.Range(0, 5).Select(_ => under.Silo.Grains.GetGrain<IGuidStateProbeGrain>(Guid.NewGuid())).ToList();

        var submissions = Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                var states = TaskBatch.NewStates(DagValidator.Plan([Specs.Task($"task-{i}")]), [], DateTimeOffset.UtcNow, new SchedulerOptions());
                await under.Store.WriteAsync(write => TaskBatch.InsertAll(write, states));
            }
        });
        var writes = grains.Select(async grain =>
        {
            for (var i = 1; i <= 4; i++)
            {
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), (await grain.Write($"write {i}")).ETag);
            }
        });
        await Task.WhenAll([submissions, .. writes]);

        Assert.Equal(5L, await under.CountAsync("version = 4"));
        Assert.Equal(40L, await under.ScalarAsync<long>("SELECT count(*) FROM tasks"));
    }

    private async Task<SqliteUnderTest> StartSqliteAsync(string test)
    {
        var path = folder.File(test + ".db");
        var store = Open(path);
        await store.OpenAsync(CancellationToken.None);
        try
        {
            var connectionString = ForOrleans(path);
            var cluster = OrleansCluster.New("sqlite");
            var silo = await OrleansSilo.StartAsync("sqlite-silo", cluster, Output, s =>
            {
                s.UseLocalhostClustering(OrleansSilo.FreePort(), OrleansSilo.FreePort(), null, cluster.ServiceId, cluster.ClusterId);
                s.AddAdoNetGrainStorage(StorageNames.Keep, o =>
                {
                    o.Invariant = "System.Data.SQLite";
                    o.ConnectionString = connectionString;
                });
                s.AddAdoNetGrainStorage(StorageNames.Delete, o =>
                {
                    o.Invariant = "System.Data.SQLite";
                    o.ConnectionString = connectionString;
                    o.DeleteStateOnClear = true;
                });
            });
            return new SqliteUnderTest(silo, cluster.ServiceId, path, store);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    private sealed class SqliteUnderTest(OrleansSilo silo, string serviceId, string path, SqliteDatabase store)
        : StorageUnderTest(silo, serviceId)
    {
        public string Path => path;

        public SqliteDatabase Store => store;

        public override async Task<int> ExecuteAsync(string sql)
        {
            await using var connection = new SqliteConnection(ForOrleans(path));
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("@s", ServiceId);
            return await command.ExecuteNonQueryAsync();
        }

        public override Task<long> CountAsync(string condition = "true") =>
            ScalarAsync<long>($"SELECT count(*) FROM orleans_storage WHERE service_id = @s AND ({condition})");

        public async Task<T> ScalarAsync<T>(string sql)
        {
            await using var connection = new SqliteConnection(ForOrleans(path));
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("@s", ServiceId);
            return (T)(await command.ExecuteScalarAsync())!;
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await store.DisposeAsync();
        }
    }
}
