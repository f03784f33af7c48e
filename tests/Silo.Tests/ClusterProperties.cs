using System.Globalization;
using OrleansScheduler.Silo.Tests.TestCluster;
using Xunit.Abstractions;

namespace OrleansScheduler.Silo.Tests;

/// <summary>The cluster's promises, written once and run on each engine by a thin subclass: every
/// task completes exactly once, the limit is never exceeded, dependencies are respected, and a
/// stopped silo's work is handed back and finished by the others. Each is judged from the handler
/// executions (<see cref="ConcurrencyProbe"/>) as well as from the recorded events, and every
/// recorded transition is checked against TaskStateMachine. The silos are real Orleans silos
/// (Orleans.TestingHost's InProcessTestCluster) running the scheduler's runtime.</summary>
public abstract class ClusterProperties(ITestOutputHelper log)
{
    protected ITestOutputHelper Log { get; } = log;

    /// <summary>How many silos share the database.</summary>
    protected abstract short Silos { get; }

    protected abstract ClusterStorage CreateStorage();

    protected Task<SchedulerCluster> StartClusterAsync(IDictionary<string, string?>? overrides = null) =>
        SchedulerCluster.StartAsync(CreateStorage(), Silos, Log, overrides);

    [SkippableFact]
    public async Task A_200_task_random_dag_runs_each_task_exactly_once_in_dependency_order_within_the_limit()
    {
        await using var cluster = await StartClusterAsync();
        var specs = RandomDag(200, seed: 42);
        await cluster.Grains.GetCatalogGrain().SubmitBatchAsync(specs);
        await cluster.WaitAllCompletedAsync(specs.Select(s => s.Id).ToList());

        var history = await cluster.HistoryAsync(specs.Select(s => s.Id));
        var runs = cluster.Probe.Runs;
        ClusterChecks.TransitionsAllowed(history);
        ClusterChecks.CompletedExactlyOnce(history, runs);
        ClusterChecks.RanExactlyOnce(history, runs);
        ClusterChecks.DependencyOrder(specs, history, runs);
        var (events, probe) = ClusterChecks.WithinLimit(history, cluster.Probe, SchedulerCluster.Limit);

        var strangers = history.Values.SelectMany(e => e).Where(e => e.To == TaskStatus.Running && !cluster.SiloNames.Contains(e.SiloId)).ToList();
        Assert.True(strangers.Count == 0, $"RUNNING events name silos outside the cluster:{Environment.NewLine}{ClusterChecks.Describe(strangers)}");
        Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{specs.Count} tasks on {Silos} silo(s), limit {SchedulerCluster.Limit}: at most {events} RUNNING at once by the events, {probe} handlers at once by the probe; " +
            $"runs per silo: {string.Join(", ", runs.GroupBy(r => r.Silo).OrderBy(g => g.Key).Select(g => $"{g.Key}={g.Count()}"))}"));
    }

    /// <summary>StopSiloAsync (Orleans' graceful stop) on a silo holding RUNNING tasks: its executor
    /// gives them the grace period, then cancels them and hands them back (RUNNING->QUEUED recorded
    /// from that silo, the attempt not counted), and the other silos complete them.</summary>
    protected async Task A_stopped_silo_hands_back_its_running_tasks_to_the_others()
    {
        await using var cluster = await StartClusterAsync(new Dictionary<string, string?> { ["Silo:ShutdownGracePeriod"] = "00:00:00.100" });
        var specs = Enumerable.Range(1, 9).Select(i => Spec($"s{i}", 3000)).ToList();
        await cluster.Grains.GetCatalogGrain().SubmitBatchAsync(specs);
        var (leaving, held) = await BusiestSiloAsync(cluster);

        await cluster.StopSiloAsync(leaving);
        Log.WriteLine($"stopped {leaving}, which ran {string.Join(", ", held)}");
        await cluster.WaitAllCompletedAsync(specs.Select(s => s.Id).ToList());

        var history = await cluster.HistoryAsync(specs.Select(s => s.Id));
        var runs = cluster.Probe.Runs;
        ClusterChecks.TransitionsAllowed(history);
        ClusterChecks.CompletedExactlyOnce(history, runs);
        ClusterChecks.WithinLimit(history, cluster.Probe, SchedulerCluster.Limit);

        foreach (var id in held)
        {
            var events = history[id];
            var handBack = events.SingleOrDefault(e => e.From == TaskStatus.Running && e.To == TaskStatus.Queued && e.SiloId == leaving);
            Assert.True(handBack is not null, $"{id} ran on {leaving} when it stopped but was not handed back by it:{Environment.NewLine}{ClusterChecks.Describe(events)}");
            Assert.True(events.All(e => !(e.Reason ?? "").Contains("attempt lost", StringComparison.Ordinal)), $"{id}'s hand-back was taken for a lost attempt:{Environment.NewLine}{ClusterChecks.Describe(events)}");
            var completed = events.Single(e => e.To == TaskStatus.Completed);
            Assert.True(completed.SiloId != leaving && cluster.SiloNames.Contains(completed.SiloId), $"{id} was not completed by another silo:{Environment.NewLine}{ClusterChecks.Describe(events)}");

            // A hand-back does not count: the re-run is attempt 1 again, and the task shows 1 attempt.
            Assert.True(events.Where(e => e.To == TaskStatus.Running).All(e => e.Attempt == 1), $"{id}'s re-run after the hand-back counted an attempt:{Environment.NewLine}{ClusterChecks.Describe(events)}");
            var task = await cluster.Grains.GetTaskGrain(id).GetAsync();
            Assert.Equal(1, task!.Attempts);
            Assert.NotEqual(leaving, task.WorkerId);

            // The probe saw the stopped silo's execution cancelled and another silo's finish.
            Assert.Contains(runs, r => r.TaskId == id && r.Silo == leaving && !r.Finished);
            Assert.Contains(runs, r => r.TaskId == id && r.Silo != leaving && r.Finished);
        }
    }

    /// <summary>KillSiloAsync on a silo while it runs tasks. In InProcessTestCluster that is not a
    /// crash: it stops the silo's host with a cancelled token, an ungraceful stop in which the
    /// silo's own code still runs (the executor cancels its attempts at once and tries to hand them
    /// back; Orleans skips the graceful deactivations). Real crashes (SIGKILL) are tested on real
    /// processes in EndToEnd.Tests. Whatever the silo managed on its way out, every task completes
    /// exactly once, nothing runs or completes on that silo once it is gone, dependencies and the
    /// limit hold.</summary>
    protected async Task A_killed_silos_tasks_complete_exactly_once_elsewhere()
    {
        await using var cluster = await StartClusterAsync();
        var specs = Enumerable.Range(1, 9).Select(i => Spec($"k{i}", 2000)).ToList();
        specs.AddRange(Enumerable.Range(1, 9).Select(i => Spec($"k{i}-child", 100, $"k{i}")));
        await cluster.Grains.GetCatalogGrain().SubmitBatchAsync(specs);
        var (victim, held) = await BusiestSiloAsync(cluster);

        var killedAt = DateTimeOffset.UtcNow;
        await cluster.KillSiloAsync(victim);
        var goneAt = DateTimeOffset.UtcNow;
        var goneTicks = ConcurrencyProbe.Now();
        Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"killed {victim} ({(goneAt - killedAt).TotalMilliseconds:0} ms), which ran {string.Join(", ", held)}"));
        await cluster.WaitAllCompletedAsync(specs.Select(s => s.Id).ToList());

        var history = await cluster.HistoryAsync(specs.Select(s => s.Id));
        var runs = cluster.Probe.Runs;
        ClusterChecks.TransitionsAllowed(history);
        ClusterChecks.CompletedExactlyOnce(history, runs);
        ClusterChecks.DependencyOrder(specs, history, runs);
        ClusterChecks.WithinLimit(history, cluster.Probe, SchedulerCluster.Limit);

        // Nothing ran or completed on the killed silo once it was gone.
        var late = history.SelectMany(h => h.Value.Where(e => e.SiloId == victim && e.To is TaskStatus.Running or TaskStatus.Completed && e.At > goneAt).Select(e => (h.Key, e))).ToList();
        Assert.True(late.Count == 0, $"{victim} started or completed tasks after it was gone at {goneAt:HH:mm:ss.ffffff}:{Environment.NewLine}{string.Join(Environment.NewLine, late.Select(l => $"{l.Key}: {ClusterChecks.Describe([l.e])}"))}");
        var lateRuns = runs.Where(r => r.Silo == victim && r.Ended > goneTicks).ToList();
        Assert.True(lateRuns.Count == 0, $"handlers on {victim} outlived it: {string.Join(", ", lateRuns)}");

        foreach (var id in held)
        {
            var events = history[id];
            var completed = events.Single(e => e.To == TaskStatus.Completed);
            Assert.True(completed.SiloId != victim, $"{id} was completed by the killed {victim}:{Environment.NewLine}{ClusterChecks.Describe(events)}");
            var left = events.First(e => e.From == TaskStatus.Running && e.SiloId == victim);
            var rerun = events.First(e => e.To == TaskStatus.Running && e.At >= left.At);
            Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {id}: left {victim} +{(left.At - killedAt).TotalMilliseconds:0} ms ({left.To.ToName()}: {left.Reason}); re-run on {rerun.SiloId} +{(rerun.At - killedAt).TotalMilliseconds:0} ms"));
        }
    }

    /// <summary>Waits until a silo runs tasks (their slots are held and started there), then answers
    /// the silo running the most and the tasks it runs.</summary>
    private static async Task<(string Silo, IReadOnlyList<string> Tasks)> BusiestSiloAsync(SchedulerCluster cluster)
    {
        var holders = await cluster.WaitAsync(
            $"{SchedulerCluster.Limit} slots are held by started attempts",
            async () => (await cluster.Grains.GetConcurrencyGrain().GetSlotsAsync()).Holders,
            h => h.Count(x => x.SiloId.Length > 0) == SchedulerCluster.Limit,
            h => string.Join(", ", h.Select(x => $"{x.TaskId}@{x.SiloId}#{x.Attempt}")));
        var busiest = holders.Where(h => h.SiloId.Length > 0).GroupBy(h => h.SiloId).OrderByDescending(g => g.Count()).First();
        return (busiest.Key, busiest.Select(h => h.TaskId).ToList());
    }

    protected static TaskSpec Spec(string id, long durationMs, params string[] dependencies) =>
        new(id, ProbeHandler.TypeName, durationMs, dependencies, null, TaskSpec.DefaultPriority, null, null, TaskSpec.DefaultMaxAttempts);

    /// <summary>Each task depends on up to three random earlier ones and has a random priority: the
    /// ready queue is ordered by priority, so a task released too early would jump ahead of the
    /// older tasks it waits for, instead of being held back by submission order.</summary>
    private static List<TaskSpec> RandomDag(int count, int seed)
    {
        var random = new Random(seed);
        var specs = new List<TaskSpec>(count);
        for (var i = 0; i < count; i++)
        {
            var dependencies = i == 0 ? [] : Enumerable.Range(0, random.Next(0, 4)).Select(_ => $"t{random.Next(0, i):000}").Distinct().ToArray();
            specs.Add(Spec($"t{i:000}", random.Next(5, 25), dependencies) with { Priority = random.Next(TaskSpec.MinPriority, TaskSpec.MaxPriority + 1) });
        }

        return specs;
    }
}

/// <summary>SQLite: one process owns the file, so the cluster is one silo.</summary>
public sealed class SqliteClusterProperties(ITestOutputHelper log) : ClusterProperties(log)
{
    protected override short Silos => 1;

    protected override ClusterStorage CreateStorage() => new SqliteClusterStorage();
}

/// <summary>PostgreSQL: three silos on one database, and the properties only a cluster of several
/// silos has.</summary>
public sealed class PostgresClusterProperties(ITestOutputHelper log) : ClusterProperties(log)
{
    protected override short Silos => 3;

    protected override ClusterStorage CreateStorage() => new PostgresClusterStorage();

    [SkippableFact]
    public Task A_stopped_silo_hands_back_its_running_tasks() => A_stopped_silo_hands_back_its_running_tasks_to_the_others();

    [SkippableFact]
    public Task A_killed_silos_tasks_complete_exactly_once_on_the_others() => A_killed_silos_tasks_complete_exactly_once_elsewhere();
}
