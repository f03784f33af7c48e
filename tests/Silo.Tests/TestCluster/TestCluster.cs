using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansScheduler.Grains;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Silo.Hosting;

namespace OrleansScheduler.Silo.Tests.TestCluster;

/// <summary>N silos in one test process over one database, after Orleans' TestCluster: silos can be
/// added, stopped gracefully, or killed abruptly; tests wait on conditions and print the state
/// they saw when a wait fails.</summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly ClusterDatabase _database;
    private readonly Dictionary<string, string?> _settings;
    private readonly List<TestSilo> _silos = [];
    private int _nextSilo;

    private TestCluster(ClusterDatabase database, Dictionary<string, string?> settings)
    {
        _database = database;
        _settings = settings;
    }

    public ConcurrencyProbe Probe { get; } = new();

    public IReadOnlyList<TestSilo> Silos => _silos;

    /// <summary>The grains as any live silo reaches them.</summary>
    public IGrainFactory Grains => _silos.First(s => s.IsAlive).Grains;

    public int Limit => int.Parse(_settings["Scheduler:MaxConcurrentTasks"]!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Settings that make failures show quickly: short leases and heartbeats.</summary>
    public static Dictionary<string, string?> FastSettings(int limit) => new()
    {
        ["Scheduler:MaxConcurrentTasks"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Scheduler:LeaseDuration"] = "00:00:02",
        ["Scheduler:SiloDeadAfter"] = "00:00:02",
        ["Scheduler:RetryBackoff"] = "00:00:00.050",
        ["Silo:HeartbeatInterval"] = "00:00:00.400",
        ["Silo:PollInterval"] = "00:00:00.250",
        ["Silo:ShutdownGracePeriod"] = "00:00:05",
    };

    public static async Task<TestCluster> StartAsync(ClusterDatabase database, int silos, Dictionary<string, string?> settings)
    {
        ArgumentNullException.ThrowIfNull(database);
        await database.PrepareAsync();
        var cluster = new TestCluster(database, new Dictionary<string, string?>(settings) { ["Storage:DatabaseUrl"] = database.DatabaseUrl });
        for (var i = 0; i < silos; i++)
        {
            await cluster.StartSiloAsync();
        }

        return cluster;
    }

    public async Task<TestSilo> StartSiloAsync(IDictionary<string, string?>? overrides = null)
    {
        var id = $"silo-{++_nextSilo}";
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(_settings)
            .AddInMemoryCollection(overrides ?? new Dictionary<string, string?>())
            .AddInMemoryCollection([new("Silo:SiloId", id)])
            .Build();
        var scheduler = configuration.GetSection(SchedulerOptions.SectionName).Get<SchedulerOptions>() ?? new SchedulerOptions();
        var storage = await _database.ConnectSiloAsync(scheduler, CancellationToken.None);

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<ITaskStore>(storage.Store);
        builder.Services.AddSingleton(storage.Work);
        builder.Services.AddSingleton(storage.Events);
        builder.Services.AddSingleton(Probe);
        builder.Services.AddSilo(builder.Configuration);
        builder.Services.AddTaskHandler<ProbeHandler>(ProbeHandler.TypeName);
        var host = builder.Build();
        await host.StartAsync();
        var silo = new TestSilo(id, host, storage.Store);
        _silos.Add(silo);
        return silo;
    }

    /// <summary>Graceful: the silo stops claiming, in-flight attempts get the grace period, the
    /// rest are handed back, and it leaves the membership table as STOPPED.</summary>
    public async Task StopSiloAsync(TestSilo silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        await silo.Host.StopAsync();
        silo.IsAlive = false;
        silo.Host.Dispose();
        await silo.Store.DisposeAsync();
    }

    /// <summary>Abrupt: from this moment the silo cannot reach the database (no heartbeat, no
    /// report, no hand-back), as if its process died; its attempts wait for their leases to
    /// expire and are re-run by the others.</summary>
    public async Task KillSiloAsync(TestSilo silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Store.Kill();
        silo.IsAlive = false;
        using var stopped = new CancellationTokenSource();
        await stopped.CancelAsync();
        try
        {
            await silo.Host.StopAsync(stopped.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or AggregateException)
        {
            // A dead process does not stop cleanly; that is the point.
        }

        silo.Host.Dispose();
        await silo.Store.DisposeAsync();
    }

    /// <summary>How often a wait looks at its condition again.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);

    /// <summary>Polls <paramref name="condition"/> until it holds; on timeout fails with the state
    /// of every task, slot and silo.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(PollInterval);
        }

        Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting until {what}.\n{await DumpStateAsync()}");
    }

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

    public async Task<string> DumpStateAsync()
    {
        var text = new StringBuilder();
        try
        {
            var stats = await Grains.GetCatalogGrain().GetStatsAsync();
            text.AppendLine($"counts: {string.Join(", ", stats.Counts.Select(c => $"{c.Key.ToName()}={c.Value}"))}");
            text.AppendLine($"slots: {stats.Slots.InUse}/{stats.Slots.Limit} held by {string.Join(", ", stats.Slots.Holders.Select(h => $"{h.TaskId}@{h.SiloId}#{h.Attempt}"))}");
            foreach (var silo in await Grains.GetCatalogGrain().GetSilosAsync())
            {
                text.AppendLine($"silo {silo.Id}: {silo.Status}, heartbeat {silo.HeartbeatAt:HH:mm:ss.fff}, running {silo.RunningTasks}");
            }

            foreach (var task in (await AllTasksAsync()).Where(t => t.Status != TaskStatus.Completed).Take(50))
            {
                text.AppendLine($"task {task.Id}: {task.Status.ToName()} attempts={task.Attempts}");
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException)
        {
            text.AppendLine($"(state unreadable: {ex.Message})");
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in _silos.Where(s => s.IsAlive))
        {
            await StopSiloAsync(silo);
        }

        await _database.DisposeAsync();
    }
}

public sealed class TestSilo(string id, IHost host, KillableStore store)
{
    public string Id { get; } = id;

    public IHost Host { get; } = host;

    public KillableStore Store { get; } = store;

    public bool IsAlive { get; set; } = true;

    public IGrainFactory Grains => Host.Services.GetRequiredService<IGrainFactory>();
}
