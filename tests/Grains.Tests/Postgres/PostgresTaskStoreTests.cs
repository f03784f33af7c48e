using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tests.Storage;

namespace OrleansScheduler.Grains.Tests.Postgres;

/// <summary>The store contract, written once in <see cref="TaskStoreContract"/>, on a real
/// PostgreSQL: one schema per test in this class's own database.</summary>
public sealed class PostgresTaskStoreTests(PostgresDatabase database) : TaskStoreContract, IClassFixture<PostgresDatabase>
{
    protected override async Task<ITaskStore> OpenStoreAsync(string name, int maxConcurrentTasks, TimeProvider clock)
    {
        var store = PostgresDatabase.Create(await database.SchemaAsync(name), maxConcurrentTasks, clock);
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }
}
