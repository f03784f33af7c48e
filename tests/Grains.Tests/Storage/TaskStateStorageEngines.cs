using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

public sealed class SqliteTaskStateStorageTests(TempFolder folder) : TaskStateStorageContract, IClassFixture<TempFolder>
{
    protected override Task<SchedulerDatabase> OpenAsync() => TestDatabases.OpenSqliteAsync(folder);
}

public sealed class PostgresTaskStateStorageTests(PostgresTestDatabase server) : TaskStateStorageContract, IClassFixture<PostgresTestDatabase>
{
    // One schema per test: the ConcurrencyGrain's state is one row per database.
    protected override Task<SchedulerDatabase> OpenAsync() => TestDatabases.OpenPostgresAsync(server);
}
