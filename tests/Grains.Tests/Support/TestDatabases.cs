using Microsoft.Extensions.Logging.Abstractions;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Postgres;

namespace OrleansScheduler.Grains.Tests.Support;

/// <summary>A fresh, migrated database of each engine for the storage contract tests: a new SQLite
/// file in the class's temp folder, or a new schema on the test PostgreSQL server.</summary>
public static class TestDatabases
{
    public static async Task<SchedulerDatabase> OpenSqliteAsync(TempFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var database = new SqliteDatabase(new StorageOptions { DatabaseUrl = folder.File(Guid.NewGuid().ToString("N") + ".db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        await database.OpenAsync(CancellationToken.None);
        return database;
    }

    public static async Task<SchedulerDatabase> OpenPostgresAsync(PostgresTestDatabase server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var schema = await server.SchemaAsync(Guid.NewGuid().ToString("N"));
        var database = new PostgresDatabase(new StorageOptions { DatabaseUrl = schema + ";Maximum Pool Size=4" }, TimeProvider.System, NullLogger<PostgresDatabase>.Instance);
        await database.OpenAsync(CancellationToken.None);
        return database;
    }
}
