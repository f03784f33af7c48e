using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains;
using OrleansScheduler.Grains.Catalog;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Hosting;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Silo.Hosting;
using OrleansScheduler.Silo.Telemetry;

namespace OrleansScheduler.Bench;

/// <summary>Hosts the scheduler in this process exactly as src/Silo's Program does (an Orleans silo
/// with AddScheduler over in-memory configuration), on a temporary SQLite file.</summary>
public static class Rig
{
    public const string BenchType = "bench";

    public static string NewDatabase(string name)
    {
        var directory = Path.Combine(Path.GetTempPath(), "orleans-scheduler-bench");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, $"{name}-{DateTime.UtcNow:HHmmss}-{Guid.NewGuid().ToString("N")[..6]}.db");
    }

    public static void DeleteDatabase(string path, Options options)
    {
        if (options.Flag("keep-db"))
        {
            Console.WriteLine($"   kept {path}");
            return;
        }

        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm", ".lock" })
        {
            try
            {
                File.Delete(path + suffix);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The in-memory configuration of a bench silo (or of the database alone).</summary>
    /// <summary>--orleans-dashboard on|off: Orleans' dashboard (its grain call profiler on every silo),
    /// on by default as in the product.</summary>
    public static bool OrleansDashboard { get; set; } = true;

    public static Dictionary<string, string?> Settings(string database, int slots, string siloId = "bench-silo") => new()
    {
        ["Telemetry:OrleansDashboard:Enabled"] = OrleansDashboard ? "true" : "false",
        ["Storage:DatabaseUrl"] = database,
        ["Scheduler:MaxConcurrentTasks"] = slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Silo:SiloId"] = siloId,
        ["Logging:LogLevel:Default"] = "Warning",
        // Orleans' start-up notes (no server GC on this host, a reminder period under a minute) are
        // the same at every start and say nothing about a run; its other warnings (the watchdog's
        // CPU starvation, failed calls) do, and stay.
        ["Logging:LogLevel:Orleans.Runtime.Silo"] = "Error",
        ["Logging:LogLevel:Orleans.Hosting.ReminderOptionsValidator"] = "Error",
    };

    /// <summary>The database alone, no silo: used to submit work before a silo starts, through the
    /// catalog grain's own batch write (TaskBatch), so the drain starts from cold grains.</summary>
    public static async Task<IHost> StartStoreAsync(string database, int slots)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(Settings(database, slots));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSchedulerDatabase(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>An Orleans silo as src/Silo hosts one (Host.CreateApplicationBuilder + UseOrleans +
    /// AddScheduler), with the bench handler registered for tasks of type "bench". Not started. On
    /// SQLite it is the one silo of the file (localhost clustering); on PostgreSQL it joins the
    /// silos of the same database through Orleans' ADO.NET membership. Ports are picked free by
    /// AddScheduler. <paramref name="extra"/> adds or overrides settings.</summary>
    public static IHost BuildSilo(string database, int slots, Recorder recorder, string siloId = "bench-silo", IReadOnlyDictionary<string, string?>? extra = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        var settings = Settings(database, slots, siloId);
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo => silo.AddScheduler(builder.Configuration));
        // As src/Silo: our meter and Orleans' when Telemetry:Metrics:Enabled (the bench's --metrics),
        // served on Telemetry:Metrics:PrometheusPort when set.
        builder.Services.AddSchedulerOpenTelemetry(builder.Configuration);
        builder.Services.AddSingleton(recorder);
        builder.Services.AddTaskHandler<BenchHandler>(BenchType);
        return builder.Build();
    }

    public static async Task StopAsync(IHost host)
    {
        await host.StopAsync(TimeSpan.FromSeconds(30));
        if (host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            host.Dispose();
        }
    }

    public static TaskSpec Spec(string id, string type = BenchType, long durationMs = 0, IReadOnlyList<string>? dependencies = null, DateTimeOffset? runAt = null) =>
        new(id, type, durationMs, dependencies ?? [], null, TaskSpec.DefaultPriority, runAt, null, 1);

    /// <summary>Submits in batches of <paramref name="chunk"/>: through the catalog grain when
    /// <paramref name="host"/> runs a silo, else through the catalog grain's own batch write
    /// (TaskBatch) on the database, so no grain is active when the silo starts. Without a silo every
    /// dependency must be in the same chunk (there is no grain to subscribe to). Returns seconds.</summary>
    public static async Task<double> SubmitAsync(IHost host, IEnumerable<TaskSpec> specs, int chunk = 10_000)
    {
        var grains = host.Services.GetService<IGrainFactory>();
        var database = host.Services.GetRequiredService<SchedulerDatabase>();
        var options = host.Services.GetRequiredService<IOptions<SchedulerOptions>>().Value;
        var clock = Stopwatch.StartNew();
        foreach (var batch in specs.Chunk(chunk))
        {
            if (grains is not null)
            {
                await grains.GetCatalogGrain().SubmitBatchAsync(batch);
            }
            else
            {
                var states = TaskBatch.NewStates(DagValidator.Plan(batch), [], DateTimeOffset.UtcNow, options);
                await database.WriteAsync(write => TaskBatch.InsertAll(write, states));
            }
        }

        return clock.Elapsed.TotalSeconds;
    }

    public static double Ms(long fromTimestamp, long toTimestamp) => (toTimestamp - fromTimestamp) * 1000.0 / Stopwatch.Frequency;
}

/// <summary>Stopwatch timestamps at the start and end of each bench-handler run, by task id.</summary>
public sealed class Recorder
{
    private readonly long _baseTimestamp = Stopwatch.GetTimestamp();
    private readonly double _baseUnixMs = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalMilliseconds;

    public ConcurrentDictionary<string, (long Start, long End)> Runs { get; } = new(StringComparer.Ordinal);

    /// <summary>A Stopwatch timestamp of this run as Unix milliseconds (the clock of task_events.at).</summary>
    public double UnixMs(long timestamp) => _baseUnixMs + Rig.Ms(_baseTimestamp, timestamp);

    public long FirstStart => Runs.IsEmpty ? 0 : Runs.Values.Min(r => r.Start);

    public long LastEnd => Runs.IsEmpty ? 0 : Runs.Values.Max(r => r.End);

    public void Record(string id, long start, long end) => Runs[id] = (start, end);
}

/// <summary>A no-op handler (or a wait of duration_ms) that records when it ran.</summary>
public sealed class BenchHandler(Recorder recorder) : ITaskHandler
{
    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var start = Stopwatch.GetTimestamp();
        if (execution.DurationMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(execution.DurationMs), cancellationToken).ConfigureAwait(false);
        }

        recorder.Record(execution.TaskId, start, Stopwatch.GetTimestamp());
        return null;
    }
}

/// <summary>Watches the store's maintained counters to see when work is durably done.</summary>
public abstract class Watcher : IDisposable
{
    /// <summary>Tasks in a terminal status, as committed.</summary>
    public abstract long Terminal();

    public abstract long Scalar(string sql);

    /// <summary>Polls every <paramref name="pollMs"/> until <paramref name="count"/> tasks are terminal;
    /// returns the Stopwatch timestamp when it saw them. Prints progress every 5 s.</summary>
    public async Task<long> WaitForTerminalAsync(long count, TimeSpan timeout, int pollMs = 1, string label = "")
    {
        var clock = Stopwatch.StartNew();
        var lastPrint = 0.0;
        while (true)
        {
            var done = Terminal();
            if (done >= count)
            {
                return Stopwatch.GetTimestamp();
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{label}: only {done:N0} of {count:N0} tasks finished in {timeout.TotalSeconds:N0} s");
            }

            if (clock.Elapsed.TotalSeconds - lastPrint >= 5)
            {
                lastPrint = clock.Elapsed.TotalSeconds;
                Console.WriteLine($"   ... {label} {done:N0} / {count:N0} after {lastPrint:N0} s");
            }

            await Task.Delay(pollMs);
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}

/// <summary>SQLite: a read-only connection of its own (WAL readers never block the writer).</summary>
public sealed class DbWatcher : Watcher
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _terminal;

    public DbWatcher(string database)
    {
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        _connection.Open();
        _terminal = _connection.CreateCommand();
        _terminal.CommandText = "SELECT coalesce(sum(count), 0) FROM status_counts WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'UPSTREAM_FAILED')";
    }

    public override long Terminal() => Convert.ToInt64(_terminal.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);

    public override long Scalar(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _terminal.Dispose();
            _connection.Dispose();
        }
    }
}

public static class Stats
{
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var rank = p / 100.0 * (sorted.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (rank - lo));
    }
}
