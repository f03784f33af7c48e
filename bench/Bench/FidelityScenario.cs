using System.Diagnostics;

namespace OrleansScheduler.Bench;

/// <summary>4. Tasks of 100 ms through the built-in simulator at the default limit of 3: how close the
/// makespan comes to the ideal tasks x duration / slots.</summary>
public static class FidelityScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var tasks = options.Int("fidelity-tasks", 300);
        var durationMs = options.Int("fidelity-ms", 100);
        var slots = options.Int("fidelity-slots", 3);
        var database = Rig.NewDatabase("fidelity");
        try
        {
            var store = await Rig.StartStoreAsync(database, slots);
            try
            {
                // Type "sim" has no handler: the built-in simulator waits duration_ms.
                await Rig.SubmitAsync(store, Enumerable.Range(0, tasks).Select(i => Rig.Spec($"f{i}", "sim", durationMs)));
            }
            finally
            {
                await Rig.StopAsync(store);
            }

            var silo = Rig.BuildSilo(database, slots, new Recorder());
            using var watcher = new DbWatcher(database);
            var before = Stopwatch.GetTimestamp();
            await silo.StartAsync();
            long done;
            try
            {
                done = await watcher.WaitForTerminalAsync(tasks, TimeSpan.FromMinutes(10), label: "fidelity");
            }
            finally
            {
                await Rig.StopAsync(silo);
            }

            // The store's own clock: first started_at to last completed_at (ms resolution).
            var first = watcher.Scalar("SELECT min(started_at) FROM tasks");
            var last = watcher.Scalar("SELECT max(completed_at) FROM tasks");
            var makespan = last - first;
            var ideal = (double)tasks * durationMs / slots;
            var maxGap = watcher.Scalar("""
                SELECT coalesce(max(gap), 0) FROM (
                  SELECT started_at - lag(completed_at) OVER (PARTITION BY 1 ORDER BY started_at) AS gap FROM tasks)
                """);
            report.Add("fidelity", "tasks x ms / slots", tasks, "tasks", note: $"{durationMs} ms each, {slots} slots, ideal {ideal / 1000:F2} s");
            report.Add("fidelity", "makespan (store clock)", makespan / 1000.0, "s", note: $"wall from silo start {Rig.Ms(before, done) / 1000:F2} s");
            report.AtLeast("fidelity", "ideal / makespan", ideal / makespan, "ratio", 0.97);
            report.Add("fidelity", "overhead per task-slot", (makespan - ideal) * slots / tasks, "ms");
            _ = maxGap;
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }
}
