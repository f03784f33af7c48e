using Npgsql;
using OrleansScheduler.Grains.Tests.Postgres;

namespace OrleansScheduler.Silo.Tests.TestCluster;

/// <summary>The database a test cluster's silos share, and the DATABASE_URL each silo is given.</summary>
public abstract class ClusterStorage : IAsyncDisposable
{
    /// <summary>Creates the database before the first silo starts (skips the test when there is no
    /// server for it).</summary>
    public virtual Task PrepareAsync() => Task.CompletedTask;

    /// <summary>Storage:DatabaseUrl of the silo named <paramref name="silo"/>.</summary>
    public abstract string DatabaseUrlFor(string silo);

    public abstract ValueTask DisposeAsync();
}

/// <summary>A SQLite file in a temp folder of its own: one process owns a file, so its cluster is
/// one silo.</summary>
public sealed class SqliteClusterStorage : ClusterStorage
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "orleans-silo-tests", Guid.NewGuid().ToString("N"));

    public override Task PrepareAsync()
    {
        Directory.CreateDirectory(_folder);
        return Task.CompletedTask;
    }

    public override string DatabaseUrlFor(string silo) => Path.Combine(_folder, "scheduler.db");

    public override ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup.
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>A fresh PostgreSQL database per test (ORLEANS_TEST_POSTGRES's server), dropped after.
/// Each silo has a small pool of its own (its name as Application Name makes the pool key differ),
/// as a silo process would, and says who it is in pg_stat_activity.</summary>
public sealed class PostgresClusterStorage : ClusterStorage
{
    private const int PoolPerSilo = 10;

    private readonly PostgresTestDatabase _database = new();
    private string? _connectionString;

    public override async Task PrepareAsync()
    {
        await _database.InitializeAsync();
        _connectionString = _database.Require();
    }

    public override string DatabaseUrlFor(string silo) =>
        new NpgsqlConnectionStringBuilder(_connectionString ?? throw new InvalidOperationException("PrepareAsync first."))
        {
            ApplicationName = silo,
            MaxPoolSize = PoolPerSilo,
        }.ConnectionString;

    public override async ValueTask DisposeAsync() => await _database.DisposeAsync();
}
