using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Sqlite;

namespace OrleansScheduler.Silo.Tests.TestCluster;

/// <summary>The database a test cluster's silos share, and how each silo reaches it.</summary>
public abstract class ClusterDatabase : IAsyncDisposable
{
    public abstract string DatabaseUrl { get; }

    /// <summary>Creates the database before the first silo starts.</summary>
    public virtual Task PrepareAsync() => Task.CompletedTask;

    /// <summary>What one silo is given: its own view of the store and the in-process signals the
    /// store fires for it.</summary>
    public abstract Task<SiloStorage> ConnectSiloAsync(SchedulerOptions scheduler, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}

public sealed record SiloStorage(KillableStore Store, WorkSignal Work, StoreEvents Events);

/// <summary>SQLite serves one process per file, so the silos of a cluster in one test process share
/// one store (one writer) and its signals, the way silos in one process would.</summary>
public sealed class SqliteClusterDatabase : ClusterDatabase
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "orleans-cluster-" + Guid.NewGuid().ToString("N"));
    private readonly WorkSignal _work = new();
    private readonly StoreEvents _events = new();
    private SqliteTaskStore? _store;

    public override string DatabaseUrl => Path.Combine(_folder, "cluster.db");

    public override async Task<SiloStorage> ConnectSiloAsync(SchedulerOptions scheduler, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            Directory.CreateDirectory(_folder);
            _store = new SqliteTaskStore(
                Options.Create(new StorageOptions { DatabaseUrl = DatabaseUrl }),
                Options.Create(scheduler),
                TimeProvider.System,
                _work,
                NullLogger<SqliteTaskStore>.Instance,
                _events);
            await _store.InitializeAsync(cancellationToken);
        }

        return new SiloStorage(new KillableStore(_store, ownsInner: false), _work, _events);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}

/// <summary>PostgreSQL is what a real cluster runs on: each silo gets a store of its own, with its
/// own connections and in-process signals, exactly as separate processes would, and they meet
/// only in the database (claims, leases, LISTEN/NOTIFY).</summary>
public sealed class PostgresClusterDatabase : ClusterDatabase
{
    private readonly OrleansScheduler.Grains.Tests.Postgres.PostgresDatabase _database = new();
    private string? _connectionString;

    public override string DatabaseUrl => _connectionString ?? throw new InvalidOperationException("Not connected yet.");

    public override async Task PrepareAsync()
    {
        await _database.InitializeAsync();
        _connectionString = _database.Require();
    }

    public override async Task<SiloStorage> ConnectSiloAsync(SchedulerOptions scheduler, CancellationToken cancellationToken)
    {
        var work = new WorkSignal();
        var events = new StoreEvents();
        var store = new OrleansScheduler.Grains.Storage.Postgres.PostgresTaskStore(
            Options.Create(new StorageOptions { DatabaseUrl = DatabaseUrl }),
            Options.Create(scheduler),
            TimeProvider.System,
            work,
            NullLogger<OrleansScheduler.Grains.Storage.Postgres.PostgresTaskStore>.Instance,
            events);
        await store.InitializeAsync(cancellationToken);
        return new SiloStorage(new KillableStore(store, ownsInner: true), work, events);
    }

    public override async ValueTask DisposeAsync() => await _database.DisposeAsync();
}
