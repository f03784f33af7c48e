using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>One scheduler cluster per test class (a class fixture, as Orleans' BaseTestClusterFixture):
/// started before the class's first test and stopped after its last. A class that needs other
/// settings derives a fixture and overrides <see cref="Configure"/>.</summary>
public abstract class SchedulerClusterFixture : IAsyncLifetime
{
    private SchedulerCluster? _cluster;

    /// <summary>"sqlite" or "postgresql".</summary>
    public abstract string Engine { get; }

    /// <summary>The running cluster. Skips the calling test when the engine has no server here
    /// (PostgreSQL on a developer's machine; under CI that fails instead).</summary>
    public SchedulerCluster Cluster
    {
        get
        {
            RequireEngine();
            return _cluster ?? throw new InvalidOperationException("The cluster did not start; see the fixture's error.");
        }
    }

    public async Task InitializeAsync()
    {
        var databaseUrl = await PrepareDatabaseAsync();
        if (databaseUrl is null)
        {
            return;
        }

        _cluster = await SchedulerCluster.StartAsync(Options(databaseUrl));
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        await DisposeDatabaseAsync();
    }

    /// <summary>The cluster's options for a database; a derived fixture changes them here. The
    /// recovery reminders tick once a minute, as in production, so a test that wants the sweeper or
    /// the ConcurrencyGrain's recovery calls it, and sees the path it tests rather than a tick's.</summary>
    public virtual SchedulerClusterOptions Options(string databaseUrl) => new() { DatabaseUrl = databaseUrl, RecoveryPeriod = TimeSpan.FromMinutes(1) };

    /// <summary>Creates the class's database and answers its DATABASE_URL, or null when the engine
    /// has no server here.</summary>
    protected abstract Task<string?> PrepareDatabaseAsync();

    protected abstract Task DisposeDatabaseAsync();

    /// <summary>Skips (or, under CI, fails) when the engine has no server here.</summary>
    protected abstract void RequireEngine();
}

/// <summary>The one-process deployment: ONE silo on a SQLite file of its own (SQLite serves one
/// process per file).</summary>
public class SqliteClusterFixture : SchedulerClusterFixture
{
    private readonly TempFolder _folder = new();

    public override string Engine => "sqlite";

    public string Folder => _folder.Path;

    protected override Task<string?> PrepareDatabaseAsync() => Task.FromResult<string?>(_folder.File("scheduler.db"));

    protected override Task DisposeDatabaseAsync()
    {
        _folder.Dispose();
        return Task.CompletedTask;
    }

    protected override void RequireEngine()
    {
    }
}

/// <summary>The cluster deployment: several silos (three) sharing a fresh PostgreSQL database.</summary>
public class PostgresClusterFixture : SchedulerClusterFixture
{
    public const int SiloCount = 3;

    private readonly PostgresTestDatabase _database = new();

    public override string Engine => "postgresql";

    public override SchedulerClusterOptions Options(string databaseUrl) => new() { DatabaseUrl = databaseUrl, RecoveryPeriod = TimeSpan.FromMinutes(1), Silos = SiloCount };

    protected override async Task<string?> PrepareDatabaseAsync()
    {
        await _database.InitializeAsync();
        return _database.ConnectionString;
    }

    protected override Task DisposeDatabaseAsync() => _database.DisposeAsync();

    protected override void RequireEngine() => _database.Require();
}
