using Microsoft.Extensions.Logging.Abstractions;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.History;

public sealed class SqliteHistoryStorageTests(TempFolder folder) : HistoryStorageContract, IClassFixture<TempFolder>
{
    protected override async Task<SchedulerDatabase> OpenAsync()
    {
        var database = new SqliteDatabase(new StorageOptions { DatabaseUrl = folder.File(Guid.NewGuid().ToString("N") + ".db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        await database.OpenAsync(CancellationToken.None);
        return database;
    }
}

public sealed class PostgresHistoryStorageTests(PostgresTestDatabase server) : HistoryStorageContract, IClassFixture<PostgresTestDatabase>
{
    protected override async Task<SchedulerDatabase> OpenAsync()
    {
        var schema = await server.SchemaAsync(Guid.NewGuid().ToString("N"));
        var database = new PostgresDatabase(new StorageOptions { DatabaseUrl = schema + ";Maximum Pool Size=4" }, TimeProvider.System, NullLogger<PostgresDatabase>.Instance);
        await database.OpenAsync(CancellationToken.None);
        return database;
    }
}
