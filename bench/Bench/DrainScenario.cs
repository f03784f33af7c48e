using System.Diagnostics;

namespace OrleansScheduler.Bench;

public sealed record DrainResult(int Tasks, double SubmitSeconds, double StartupMs, double Seconds, double TasksPerSecond,
    double HandlerSpanSeconds, double CpuCores, string TopThreads, long Events, long TaskRows, double GcPauseMs, string GcCounts,
    double AllocatedBytesPerTask, string Load);

/// <summary>1. N no-op tasks already submitted (rows only: no grain is active); one Orleans silo with
/// a high slot limit starts; tasks/s from the first handler start to the moment the last completion
/// is committed. Every task is a cold grain: activated (its row read) when its grant arrives.</summary>
public static class DrainScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var tasks = options.Int("drain-tasks", 100_000, quick: 30_000);
        var slots = options.Int("drain-slots", 1000);
        var readPaths = new List<(string Name, double Ms, string Plan)>();
        var result = await DrainAsync(tasks, slots, options, inspect: database => readPaths.AddRange(ApiProbe.TimeStatements(database)));
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
        report.Add("drain", "task_events rows per task", (double)result.Events / tasks, "rows");
        foreach (var (name, ms, plan) in readPaths)
        {
            // The read statements of sql/sqlite/queries.sql (stats, listings, the grant scan,
            // recovery's sweeps), on the drained database.
            report.Add("drain", "after: " + name, ms, "ms", note: plan);
        }
    }

    public static async Task<DrainResult> DrainAsync(int tasks, int slots, Options options, string label = "drain", Action<string>? inspect = null)
    {
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
            var silo = Rig.BuildSilo(database, slots, recorder);
            using var watcher = new DbWatcher(database);
            var before = Stopwatch.GetTimestamp();
            var pauseBefore = GC.GetTotalPauseDuration();
            int[] gcBefore = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
            var allocatedBefore = GC.GetTotalAllocatedBytes();
            var cpu = new ThreadCpu();
            await silo.StartAsync();
            var started = Stopwatch.GetTimestamp();
            try
            {
                var done = await watcher.WaitForTerminalAsync(tasks, TimeSpan.FromMinutes(30), label: label);
                var (cores, top) = cpu.Finish();
                var pauseMs = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds;
                var gcs = $"gen0 {GC.CollectionCount(0) - gcBefore[0]}, gen1 {GC.CollectionCount(1) - gcBefore[1]}, gen2 {GC.CollectionCount(2) - gcBefore[2]}";
                var allocated = (double)(GC.GetTotalAllocatedBytes() - allocatedBefore) / tasks;
                var first = recorder.FirstStart;
                var seconds = Rig.Ms(first, done) / 1000.0;
                var events = watcher.Scalar("SELECT count(*) FROM task_events");
                var rows = watcher.Scalar("SELECT count(*) FROM tasks");
                var result = new DrainResult(tasks, submitSeconds, Rig.Ms(before, started), seconds, tasks / seconds,
                    Rig.Ms(first, recorder.LastEnd) / 1000.0, cores, top, events, rows, pauseMs, gcs, allocated, Report.LoadAverage());
                Console.WriteLine($"   {label}: {tasks:N0} tasks in {seconds:F2} s = {result.TasksPerSecond:N0}/s; CPU {cores:F2} cores: {top}; GC paused {pauseMs:F0} ms ({gcs}); {allocated / 1024:F1} KB allocated per task; load average {result.Load}");
                inspect?.Invoke(database);
                return result;
            }
            finally
            {
                await Rig.StopAsync(silo);
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }
}
