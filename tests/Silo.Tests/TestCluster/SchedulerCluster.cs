using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.TestingHost;
using OrleansScheduler.Silo.Hosting;
using OrleansScheduler.Testing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace OrleansScheduler.Silo.Tests.TestCluster;

/// <summary>Silos of the scheduler on Orleans.TestingHost's <see cref="InProcessTestCluster"/>: each
/// silo runs <see cref="SchedulerSiloExtensions.AddSchedulerRuntime"/> as a silo process does, on
/// one shared database, inside the test cluster's own membership and in-memory transport. Every
/// silo registers the <see cref="ProbeHandler"/> over one <see cref="ConcurrencyProbe"/>. Waits
/// fail with the state of every task, slot and silo.</summary>
public sealed class SchedulerCluster : IAsyncDisposable
{
    /// <summary>The cluster-wide limit of the tests.</summary>
    public const int Limit = 3;

    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly InProcessTestCluster _cluster;
    private readonly ClusterStorage _storage;
    private readonly ITestOutputHelper _log;

    private SchedulerCluster(InProcessTestCluster cluster, ClusterStorage storage, ConcurrencyProbe probe, ITestOutputHelper log)
    {
        _cluster = cluster;
        _storage = storage;
        Probe = probe;
        _log = log;
        SiloNames = cluster.Silos.Select(s => s.Name).ToList();
    }

    public ConcurrencyProbe Probe { get; }

    /// <summary>The test cluster's client.</summary>
    public IGrainFactory Grains => _cluster.Client;

    /// <summary>Every silo the cluster started, stopped ones included.</summary>
    public IReadOnlyList<string> SiloNames { get; }

    /// <summary>The silos still running.</summary>
    public IReadOnlyList<string> LiveSilos => _cluster.Silos.Select(s => s.Name).ToList();

    /// <summary>Settings every silo gets: the limit, recovery reminders every 2 s (a minute in
    /// production), quick retries, a short grace period on stop.</summary>
    public static Dictionary<string, string?> Settings() => new()
    {
        ["Scheduler:MaxConcurrentTasks"] = Limit.ToString(CultureInfo.InvariantCulture),
        ["Scheduler:RecoveryPeriod"] = "00:00:02",
        ["Scheduler:RetryBackoff"] = "00:00:00.050",
        ["Silo:ShutdownGracePeriod"] = "00:00:01",
    };

    /// <summary>Prepares <paramref name="storage"/> and deploys <paramref name="silos"/> silos on it,
    /// with <see cref="Settings"/> and <paramref name="overrides"/>.</summary>
    public static async Task<SchedulerCluster> StartAsync(ClusterStorage storage, short silos, ITestOutputHelper log, IDictionary<string, string?>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        await storage.PrepareAsync();
        var settings = Settings();
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var probe = new ConcurrencyProbe();
        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSiloHost((silo, host) =>
        {
            host.Logging.SetMinimumLevel(LogLevel.Warning);
            host.Logging.AddProvider(new TestOutputLoggerProvider(log, silo.SiloName));
        });
        builder.ConfigureSilo((silo, siloBuilder) =>
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(settings)
                .AddInMemoryCollection([new("Storage:DatabaseUrl", storage.DatabaseUrlFor(silo.SiloName))])
                .Build();
            siloBuilder.AddSchedulerRuntime(configuration);
            siloBuilder.Services.AddSingleton(probe);
            siloBuilder.Services.AddTaskHandler<ProbeHandler>(ProbeHandler.TypeName);
        });

        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            await storage.DisposeAsync();
            throw;
        }

        return new SchedulerCluster(cluster, storage, probe, log);
    }

    /// <summary>Orleans' graceful stop: the silo's executor lets attempts run for the grace period,
    /// hands the rest back, and the silo leaves the membership.</summary>
    public Task StopSiloAsync(string name) => _cluster.StopSiloAsync(Handle(name));

    /// <summary>Orleans.TestingHost's "kill": <see cref="InProcessTestCluster.KillSiloAsync"/> stops
    /// the silo's host with a cancelled token. That is an ungraceful stop, not a crash: the silo's
    /// code still runs its stop path (and still tells the membership it is going). Real crashes are
    /// tested with SIGKILL on real processes (EndToEnd.Tests).</summary>
    public Task KillSiloAsync(string name) => _cluster.KillSiloAsync(Handle(name));

    /// <summary>Polls until <paramref name="done"/>; on a timeout fails with the last state seen and
    /// the cluster's state.</summary>
    public async Task<T> WaitAsync<T>(string what, Func<Task<T>> probe, Func<T, bool> done, Func<T, string> describe, TimeSpan? timeout = null)
    {
        try
        {
            return await Poll.UntilAsync(what, probe, done, describe, timeout ?? Patience);
        }
        catch (XunitException ex)
        {
            throw new XunitException($"{ex.Message}{Environment.NewLine}{await DescribeAsync()}");
        }
    }

    public Task<IReadOnlyList<TaskSummary>> WaitAllCompletedAsync(IReadOnlyCollection<string> ids) =>
        WaitAsync(
            $"all {ids.Count} tasks are COMPLETED",
            AllTasksAsync,
            tasks => ids.All(id => tasks.Any(t => t.Id == id && t.Status == TaskStatus.Completed)),
            tasks => $"{tasks.Count(t => t.Status == TaskStatus.Completed)} of {tasks.Count} COMPLETED; not: {string.Join(", ", tasks.Where(t => t.Status != TaskStatus.Completed).Take(30).Select(t => $"{t.Id}={t.Status.ToName()}"))}");

    public async Task<IReadOnlyList<TaskSummary>> AllTasksAsync()
    {
        var catalog = Grains.GetCatalogGrain();
        var all = new List<TaskSummary>();
        long? after = null;
        do
        {
            var page = await catalog.ListAsync(new TaskQuery(null, null, TaskQuery.MaxLimit, after, 0));
            all.AddRange(page.Items);
            after = page.NextCursor;
        }
        while (after is not null);
        return all;
    }

    /// <summary>Every task's recorded transitions, oldest first, by task id.</summary>
    public async Task<Dictionary<string, IReadOnlyList<TaskEvent>>> HistoryAsync(IEnumerable<string> ids)
    {
        var list = ids.ToList();
        var events = await Task.WhenAll(list.Select(id => Grains.GetTaskGrain(id).GetEventsAsync()));
        return list.Zip(events).ToDictionary(x => x.First, x => x.Second ?? [], StringComparer.Ordinal);
    }

    /// <summary>Counters, slot holders, the silos and every unfinished task; what cannot be read
    /// says why.</summary>
    public async Task<string> DescribeAsync()
    {
        var text = new StringBuilder("=== the cluster ===").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"silos started: {string.Join(", ", SiloNames)}; running: {string.Join(", ", LiveSilos)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"probe: {Probe.Current} running now, max {Probe.Max}, {Probe.Runs.Count} runs ended");
        try
        {
            var catalog = Grains.GetCatalogGrain();
            var stats = await catalog.GetStatsAsync();
            text.AppendLine(CultureInfo.InvariantCulture, $"counts: {string.Join(", ", stats.Counts.Select(c => $"{c.Key.ToName()}={c.Value}"))}");
            text.AppendLine(CultureInfo.InvariantCulture, $"slots: {stats.Slots.InUse}/{stats.Slots.Limit} held by {string.Join(", ", stats.Slots.Holders.Select(h => $"{h.TaskId}@{h.SiloId}#{h.Attempt}"))}");
            foreach (var silo in await catalog.GetSilosAsync())
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"silo {silo.Id}: {silo.Status}, running {silo.RunningTasks}");
            }

            foreach (var task in (await AllTasksAsync()).Where(t => t.Status != TaskStatus.Completed).Take(50))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"task {task.Id}: {task.Status.ToName()} attempts={task.Attempts}");
            }
        }
        catch (Exception ex) when (ex is OrleansException or TimeoutException or InvalidOperationException)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"(state unreadable: {ex.Message})");
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _cluster.StopAllSilosAsync();
        }
        catch (Exception ex) when (ex is OrleansException or OperationCanceledException or TimeoutException)
        {
            _log.WriteLine($"stopping the test cluster: {ex.Message}");
        }
        finally
        {
            await _cluster.DisposeAsync();
            await _storage.DisposeAsync();
        }
    }

    private InProcessSiloHandle Handle(string name) =>
        _cluster.Silos.SingleOrDefault(s => s.Name == name)
        ?? throw new InvalidOperationException($"No running silo named {name}: {string.Join(", ", LiveSilos)}");
}
