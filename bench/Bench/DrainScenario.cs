using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains;
using OrleansScheduler.Grains.Catalog;
using OrleansScheduler.Grains.Concurrency;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Bench;

public sealed record DrainResult(int Tasks, double SubmitSeconds, double StartupMs, double Seconds, double TasksPerSecond,
    double HandlerSpanSeconds, double CpuCores, string TopThreads, long Events, long TaskRows, double GcPauseMs, string GcCounts,
    double AllocatedBytesPerTask, string Load, double JitMs, long JitMethods, double LiveHeapMb);

/// <summary>1. N no-op tasks already submitted (rows only: no grain is active); one Orleans silo with
/// a high slot limit starts; tasks/s from the first handler start to the moment the last completion
/// is committed. Every task is a cold grain: activated (its row read) when its grant arrives.</summary>
public static class DrainScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var tasks = options.Int("drain-tasks", 100_000, quick: 30_000);
        var slots = options.Int("drain-slots", 1000);
        var warm = options.Flag("drain-warm", true);
        if (MetricsRun.Modes(options) is { Count: > 1 } modes)
        {
            // --metrics both: cold drains alternating off and on, nothing else.
            var figures = new List<(bool, double)>();
            var cpu = new List<(bool, double)>();
            foreach (var metrics in modes)
            {
                var run = (await DrainRoundsAsync(tasks, slots, options, $"drain, {MetricsRun.Name(metrics)}", warm: false, metrics: metrics)).Cold;
                figures.Add((metrics, run.TasksPerSecond));
                cpu.Add((metrics, run.CpuCores * run.Seconds / tasks * 1e6));
            }

            report.Add("drain", "tasks", tasks, "tasks", note: $"slots {slots}; --metrics both: {modes.Count} cold drains, off and on alternating; load average after {Report.LoadAverage()}");
            MetricsRun.ReportBoth(report, "drain", "drain throughput", "tasks/s", figures);
            // CPU per task moves much less with the machine's load than a rate does.
            MetricsRun.ReportBoth(report, "drain", "CPU per task", "us", cpu, higherIsBetter: false);
            return;
        }

        var readPaths = new List<(string Name, double Ms, string Plan)>();
        var (result, warmResult) = await DrainRoundsAsync(tasks, slots, options, "drain", warm, inspect: database => readPaths.AddRange(ApiProbe.TimeStatements(database)));
        report.Shared["drain_rate"] = result.TasksPerSecond;
        report.Add("drain", "tasks", tasks, "tasks", note: $"slots {slots} (Scheduler:MaxConcurrentTasks); load average after {result.Load}");
        report.Add("drain", "submit (in-process batches of 10k)", tasks / result.SubmitSeconds, "tasks/s");
        report.Add("drain", "silo start-up", result.StartupMs, "ms");
        report.AtLeast("drain", "drain throughput", result.TasksPerSecond, "tasks/s", 10_000);
        report.Add("drain", "drain makespan", result.Seconds, "s");
        report.Add("drain", "CPU busy during drain", result.CpuCores, "cores", note: result.TopThreads);
        report.Add("drain", "CPU per task", result.CpuCores * result.Seconds / tasks * 1e6, "us");
        report.Add("drain", "GC pauses during drain", result.GcPauseMs, "ms", note: result.GcCounts);
        report.Add("drain", "allocated per task", result.AllocatedBytesPerTask / 1024, "KB", note: "whole process, managed heap");
        report.Add("drain", "JIT during drain", result.JitMs, "ms", note: $"{result.JitMethods:N0} methods compiled (tier-up): the warm-up did not cover them all");
        report.Add("drain", "task_events rows per task", (double)result.Events / tasks, "rows");
        report.Add("drain", "live managed heap after", result.LiveHeapMb, "MB", note: "after a full compacting collection, the silo still running");
        if (warmResult is { } w)
        {
            report.Add("drain", "live managed heap after the warm round", w.LiveHeapMb, "MB",
                note: $"{(w.LiveHeapMb - result.LiveHeapMb) * 1048576 / tasks:F0} bytes more per task run through");
            report.Add("drain", "drain throughput, warm silo", w.TasksPerSecond, "tasks/s",
                note: $"{tasks:N0} more tasks on the same silo once idle (JIT and caches warm, grains cold); CPU {w.CpuCores:F2} cores, {w.CpuCores * w.Seconds / tasks * 1e6:F0} us per task; GC paused {w.GcPauseMs:F0} ms; JIT {w.JitMs:F0} ms");
        }

        foreach (var (name, ms, plan) in readPaths)
        {
            // The read statements of sql/sqlite/queries.sql (stats, listings, the grant scan,
            // recovery's sweeps), on the drained database.
            report.Add("drain", "after: " + name, ms, "ms", note: plan);
        }
    }

    /// <summary>Drains <paramref name="tasks"/> no-op tasks submitted before the silo starts; with
    /// <paramref name="warm"/>, then as many again submitted to the same silo once it is idle (rows
    /// written as before, then the silo's slot batcher woken, as a submission wakes it), whose
    /// result is returned second: a silo whose JIT and caches are warm, its grains still cold.</summary>
    public static async Task<DrainResult> DrainAsync(int tasks, int slots, Options options, string label = "drain", Action<string>? inspect = null) =>
        (await DrainRoundsAsync(tasks, slots, options, label, warm: false, inspect)).Cold;

    /// <param name="metrics">The --metrics mode (by default the flag's first): when on, the silo
    /// serves Prometheus text on a port of its own and it is scraped during the drain.</param>
    public static async Task<(DrainResult Cold, DrainResult? Warm)> DrainRoundsAsync(int tasks, int slots, Options options, string label, bool warm, Action<string>? inspect = null, bool? metrics = null)
    {
        var metricsOn = metrics ?? MetricsRun.Modes(options)[0];
        var metricsPort = Child.FreePort();
        var database = Rig.NewDatabase(label);
        try
        {
            double submitSeconds;
            var store = await Rig.StartStoreAsync(database, slots);
            try
            {
                submitSeconds = await Rig.SubmitAsync(store, Enumerable.Range(0, tasks).Select(i => Rig.Spec($"t{i}")));
            }
            finally
            {
                await Rig.StopAsync(store);
            }

            var recorder = new Recorder();
            var silo = Rig.BuildSilo(database, slots, recorder, extra: MetricsRun.Settings(metricsOn, metricsPort));
            using var watcher = new DbWatcher(database);
            Scraper? scraper = null;
            try
            {
                var cold = await MeasureAsync(tasks, tasks, "t", submitSeconds, label, recorder, watcher, options, async () =>
                {
                    await silo.StartAsync();
                    scraper = metricsOn ? new Scraper($"http://localhost:{metricsPort}/metrics") : null;
                });
                if (scraper is not null)
                {
                    await scraper.DisposeAsync();
                    Console.WriteLine($"   {label}: {scraper}");
                    scraper = null;
                }

                DrainResult? second = null;
                if (warm)
                {
                    var services = silo.Services;
                    var schedulerDatabase = services.GetRequiredService<SchedulerDatabase>();
                    var schedulerOptions = services.GetRequiredService<IOptions<SchedulerOptions>>().Value;
                    var clock = Stopwatch.StartNew();
                    foreach (var chunk in Enumerable.Range(0, tasks).Select(i => Rig.Spec($"u{i}")).Chunk(10_000))
                    {
                        var states = TaskBatch.NewStates(DagValidator.Plan(chunk), [], DateTimeOffset.UtcNow, schedulerOptions);
                        await schedulerDatabase.WriteAsync(write => TaskBatch.InsertAll(write, states));
                    }

                    var seconds = clock.Elapsed.TotalSeconds;
                    var slotRequests = services.GetRequiredService<SlotRequests>();
                    second = await MeasureAsync(tasks, 2L * tasks, "u", seconds, label + ", warm silo", recorder, watcher, options, () =>
                    {
                        slotRequests.Wake();
                        return Task.CompletedTask;
                    });
                }

                inspect?.Invoke(database);
                return (cold, second);
            }
            finally
            {
                if (scraper is not null)
                {
                    await scraper.DisposeAsync();
                }

                await Rig.StopAsync(silo);
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }

    /// <summary>Starts the round with <paramref name="start"/> and waits until <paramref name="terminal"/>
    /// tasks are terminal; the rate counts from the first handler start of a task whose id starts
    /// with <paramref name="prefix"/>.</summary>
    private static async Task<DrainResult> MeasureAsync(int tasks, long terminal, string prefix, double submitSeconds, string label,
        Recorder recorder, DbWatcher watcher, Options options, Func<Task> start)
    {
        var before = Stopwatch.GetTimestamp();
        var pauseBefore = GC.GetTotalPauseDuration();
        int[] gcBefore = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        var allocatedBefore = GC.GetTotalAllocatedBytes();
        var jitBefore = (System.Runtime.JitInfo.GetCompilationTime(), System.Runtime.JitInfo.GetCompiledMethodCount());
        using var profile = options.Flag("profile") ? new RuntimeProfile() : null;
        var cpu = new ThreadCpu();
        await start();
        var started = Stopwatch.GetTimestamp();
        var done = await watcher.WaitForTerminalAsync(terminal, TimeSpan.FromMinutes(30), label: label);
        var (cores, top) = cpu.Finish();
        var pauseMs = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds;
        var gcs = $"gen0 {GC.CollectionCount(0) - gcBefore[0]}, gen1 {GC.CollectionCount(1) - gcBefore[1]}, gen2 {GC.CollectionCount(2) - gcBefore[2]}";
        var allocated = (double)(GC.GetTotalAllocatedBytes() - allocatedBefore) / tasks;
        var jitMs = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore.Item1).TotalMilliseconds;
        var jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore.Item2;
        var runs = recorder.Runs.Where(r => r.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(r => r.Value).ToList();
        var first = runs.Min(r => r.Start);
        // The live managed heap once the round is over (a full, compacting collection first): what
        // the silo keeps per task that went through it.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        var liveMb = GC.GetTotalMemory(forceFullCollection: true) / 1048576.0;
        var seconds = Rig.Ms(first, done) / 1000.0;
        var events = watcher.Scalar("SELECT count(*) FROM task_events");
        var rows = watcher.Scalar("SELECT count(*) FROM tasks");
        var result = new DrainResult(tasks, submitSeconds, Rig.Ms(before, started), seconds, tasks / seconds,
            Rig.Ms(first, runs.Max(r => r.End)) / 1000.0, cores, top, events, rows, pauseMs, gcs, allocated, Report.LoadAverage(), jitMs, jitMethods, liveMb);
        Console.WriteLine($"   {label}: {tasks:N0} tasks in {seconds:F2} s = {result.TasksPerSecond:N0}/s; CPU {cores:F2} cores: {top}; GC paused {pauseMs:F0} ms ({gcs}); {allocated / 1024:F1} KB allocated per task; JIT {jitMs:F0} ms ({jitMethods:N0} methods); live heap after {liveMb:F0} MB; load average {result.Load}");
        foreach (var line in profile?.Summary(tasks) ?? [])
        {
            Console.WriteLine("   profile: " + line);
        }

        return result;
    }
}
