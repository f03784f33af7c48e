using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>What every process-level cluster test shares: the cluster it starts (three silo
/// processes and a front end) is stopped after the test, whatever happened in it.</summary>
public abstract class ProcessClusterTest(ITestOutputHelper log) : IAsyncLifetime
{
    private ProcessCluster? _cluster;

    protected ITestOutputHelper Log { get; } = log;

    /// <summary>Starts the cluster on <paramref name="connectionString"/>'s database, every process
    /// with <paramref name="settings"/> too; it is disposed with the test.</summary>
    protected async Task<ProcessCluster> StartClusterAsync(string connectionString, Dictionary<string, string>? settings = null) =>
        _cluster = await ProcessCluster.StartAsync(connectionString, Log, settings: settings);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
