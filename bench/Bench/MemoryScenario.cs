using System.Diagnostics;

namespace OrleansScheduler.Bench;

/// <summary>8. Peak RSS of a silo process (the built src/Silo, started as a child; it picks free ports
/// itself) while many tasks sit in the database (SCHEDULED a year ahead: rows only, no grain is
/// activated for them) and a share of them run through (each a TaskGrain activation, deactivated
/// once COMPLETED).</summary>
public static class MemoryScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var stored = options.Int("memory-stored", 1_000_000, quick: 200_000);
        var run = options.Int("memory-run", 100_000, quick: 20_000);
        var slots = options.Int("memory-slots", 1000);
        var api = options.Flag("memory-api", true);
        if (run > stored)
        {
            throw new ArgumentException("--memory-run must not exceed --memory-stored");
        }

        var database = Rig.NewDatabase("memory");
        try
        {
            var later = DateTimeOffset.UtcNow.AddYears(1);
            var store = await Rig.StartStoreAsync(database, slots);
            double submitSeconds;
            try
            {
                // The ready ones first, so the silo's first claims find them at the head of the queue.
                var specs = Enumerable.Range(0, stored).Select(i => i < run
                    ? Rig.Spec($"m{i}", "noop")
                    : Rig.Spec($"m{i}", "noop", runAt: later));
                submitSeconds = await Rig.SubmitAsync(store, specs);
            }
            finally
            {
                await Rig.StopAsync(store);
            }

            var fileMb = new FileInfo(database).Length / 1048576.0;
            report.Add("memory", "tasks stored / run", stored, "tasks", note: $"{run:N0} run; the rest SCHEDULED a year ahead; db {fileMb:N0} MB, loaded at {stored / submitSeconds:N0}/s");

            var silo = Child.Start("Silo", new Dictionary<string, string>
            {
                ["DATABASE_URL"] = database,
                ["MAX_CONCURRENT_TASKS"] = slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["LOG_LEVEL"] = "warning",
            });
            try
            {
                using var watcher = new DbWatcher(database);
                var clock = Stopwatch.StartNew();
                var peakSampled = 0.0;
                var lastPrint = 0.0;
                long done;
                while ((done = watcher.Terminal()) < run)
                {
                    if (silo.HasExited)
                    {
                        throw new InvalidOperationException("the silo exited:\n" + silo.Output);
                    }

                    peakSampled = Math.Max(peakSampled, ThreadCpu.MemoryMb(silo.Pid, "VmRSS"));
                    if (clock.Elapsed > TimeSpan.FromMinutes(30))
                    {
                        throw new TimeoutException($"only {done:N0} of {run:N0} ran in 30 min");
                    }

                    if (clock.Elapsed.TotalSeconds - lastPrint >= 5)
                    {
                        lastPrint = clock.Elapsed.TotalSeconds;
                        Console.WriteLine($"   ... memory {done:N0} / {run:N0}, RSS {ThreadCpu.MemoryMb(silo.Pid, "VmRSS"):N0} MB");
                    }

                    await Task.Delay(50);
                }

                var seconds = clock.Elapsed.TotalSeconds;
                var peak = ThreadCpu.MemoryMb(silo.Pid, "VmHWM");
                var cpu = ThreadCpu.ProcessCpu(silo.Pid).TotalSeconds;
                report.Below("memory", "silo peak RSS (VmHWM)", peak, "MB", 300);
                report.Add("memory", "silo RSS at end", ThreadCpu.MemoryMb(silo.Pid, "VmRSS"), "MB");
                report.Add("memory", "run-through incl. start-up", run / seconds, "tasks/s", note: $"{seconds:F1} s, silo CPU {cpu:F1} s; load average after {Report.LoadAverage()}");
                _ = peakSampled;
            }
            finally
            {
                silo.Dispose();
            }

            if (api)
            {
                // The read endpoints against the same database (SQLite serves one process per file:
                // the silo is gone now).
                await ApiProbe.MeasureAsync(database, stored, report);
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }
}
