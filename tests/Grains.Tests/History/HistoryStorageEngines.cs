using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.History;

public sealed class SqliteHistoryStorageTests(TempFolder folder) : HistoryStorageContract, IClassFixture<TempFolder>
{
    protected override Task<SchedulerDatabase> OpenAsync() => TestDatabases.OpenSqliteAsync(folder);
}

public sealed class PostgresHistoryStorageTests(PostgresTestDatabase server) : HistoryStorageContract, IClassFixture<PostgresTestDatabase>
{
    protected override Task<SchedulerDatabase> OpenAsync() => TestDatabases.OpenPostgresAsync(server);
}
