using OrleansScheduler.Silo.Tests.TestCluster;

namespace OrleansScheduler.Silo.Tests;

/// <summary>The cluster's promises, written once and run on each engine by a thin subclass: every
/// task completes exactly once, the limit holds across silos, dependencies are respected, and a
/// dead silo's work is re-run by the others.</summary>
public abstract class ClusterProperties
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    protected abstract ClusterDatabase CreateDatabase();

    [SkippableFact]
    public async Task Every_task_of_a_200_task_dag_completes_exactly_once_within_the_limit()
    {
        await using var cluster = await TestCluster.TestCluster.StartAsync(CreateDatabase(), silos: 3, TestCluster.TestCluster.FastSettings(limit: 3));
        var specs = RandomDag(200, seed: 42);
        await cluster.Grains.GetCatalogGrain().SubmitBatchAsync(specs);

        await cluster.WaitUntilAsync(async () => (await cluster.AllTasksAsync()).All(t => t.Status == TaskStatus.Completed), Patience, "all 200 tasks COMPLETED");

        var history = await HistoryAsync(cluster, specs);
        foreach (var spec in specs)
        {
            var events = history[spec.Id];
            Assert.True(events.Count(e => e.To == TaskStatus.Completed) == 1, $"{spec.Id} completed {events.Count(e => e.To == TaskStatus.Completed)} times");
            Assert.True(events.Count(e => e.To == TaskStatus.Running) == 1, $"{spec.Id} ran {events.Count(e => e.To == TaskStatus.Running)} attempts");
            var started = events.First(e => e.To == TaskStatus.Running).At;
            foreach (var dependency in spec.Dependencies)
            {
                var completed = history[dependency].Single(e => e.To == TaskStatus.Completed).At;
                Assert.True(completed <= started, $"{spec.Id} started at {started:O} before its dependency {dependency} completed at {completed:O}");
            }
        }

        var maxRunning = MaxRunning(history.Values);
        Assert.True(maxRunning <= cluster.Limit, $"{maxRunning} tasks were RUNNING at once; the limit is {cluster.Limit}");
        Assert.True(cluster.Probe.Max <= cluster.Limit, $"{cluster.Probe.Max} handlers ran at once; the limit is {cluster.Limit}");
        var strangers = history.Values.SelectMany(e => e).Where(e => e.To == TaskStatus.Running && cluster.Silos.All(s => s.Id != e.SiloId)).ToList();
        Assert.Empty(strangers);
    }

    [SkippableFact]
    public async Task A_killed_silos_tasks_are_rerun_by_the_others()
    {
        await using var cluster = await TestCluster.TestCluster.StartAsync(CreateDatabase(), silos: 3, TestCluster.TestCluster.FastSettings(limit: 3));
        var specs = Enumerable.Range(1, 12).Select(i => Spec($"k{i:00}", 1500)).ToList();
        await cluster.Grains.GetCatalogGrain().SubmitBatchAsync(specs);

        TestSilo? victim = null;
        IReadOnlyList<string> victimsTasks = [];
        await cluster.WaitUntilAsync(async () =>
        {
            var slots = await cluster.Grains.GetConcurrencyGrain().GetSlotsAsync();
            var holder = slots.Holders.GroupBy(h => h.SiloId).FirstOrDefault();
            if (holder is null)
            {
                return false;
            }

            victim = cluster.Silos.Single(s => s.Id == holder.Key);
            victimsTasks = holder.Select(h => h.TaskId).ToList();
            return true;
        }, Patience, "some silo holds a RUNNING task");

        await cluster.KillSiloAsync(victim!);
        await cluster.WaitUntilAsync(async () => (await cluster.AllTasksAsync()).All(t => t.Status == TaskStatus.Completed), Patience, "all tasks COMPLETED after the kill");

        var history = await HistoryAsync(cluster, specs);
        foreach (var id in victimsTasks)
        {
            var events = history[id];
            var completion = events.Single(e => e.To == TaskStatus.Completed);
            Assert.NotEqual(victim!.Id, completion.SiloId);
            Assert.Contains(events, e => e.From == TaskStatus.Running && e.SiloId == victim.Id && (e.Reason ?? "").Contains("lease", StringComparison.Ordinal));
        }

        foreach (var spec in specs)
        {
            Assert.Single(history[spec.Id], e => e.To == TaskStatus.Completed);
        }

        var silos = await cluster.Grains.GetCatalogGrain().GetSilosAsync();
        Assert.Equal("DEAD", silos.Single(s => s.Id == victim!.Id).Status);
        Assert.True(MaxRunning(history.Values) <= cluster.Limit);
    }

    [SkippableFact]
    public async Task A_silo_stopped_gracefully_hands_back_what_it_cannot_finish()
    {
        var settings = TestCluster.TestCluster.FastSettings(limit: 3);
        settings["Silo:ShutdownGracePeriod"] = "00:00:00.100";
        await using var cluster = await TestCluster.TestCluster.StartAsync(CreateDatabase(), silos: 2, settings);
        var specs = Enumerable.Range(1, 6).Select(i => Spec($"s{i}", 3000)).ToList();
        await cluster.Grains.GetCatalogGrain().SubmitBatchAsync(specs);

        TestSilo? leaving = null;
        await cluster.WaitUntilAsync(async () =>
        {
            var slots = await cluster.Grains.GetConcurrencyGrain().GetSlotsAsync();
            leaving = cluster.Silos.FirstOrDefault(s => slots.Holders.Any(h => h.SiloId == s.Id));
            return leaving is not null;
        }, Patience, "a silo holds a RUNNING task");

        await cluster.StopSiloAsync(leaving!);
        await cluster.WaitUntilAsync(async () => (await cluster.AllTasksAsync()).All(t => t.Status == TaskStatus.Completed), Patience, "all tasks COMPLETED after the stop");

        var history = await HistoryAsync(cluster, specs);
        var handedBack = history.Where(h => h.Value.Any(e => e.From == TaskStatus.Running && e.To == TaskStatus.Queued && e.SiloId == leaving!.Id)).ToList();
        Assert.NotEmpty(handedBack);
        foreach (var (id, _) in handedBack)
        {
            var task = await cluster.Grains.GetTaskGrain(id).GetAsync();
            Assert.Equal(1, task!.Attempts); // A hand-back does not count as an attempt.
            Assert.NotEqual(leaving!.Id, task.WorkerId);
        }

        var silos = await cluster.Grains.GetCatalogGrain().GetSilosAsync();
        Assert.Equal("STOPPED", silos.Single(s => s.Id == leaving!.Id).Status);
    }

    private static TaskSpec Spec(string id, long durationMs, params string[] dependencies) =>
        new(id, ProbeHandler.TypeName, durationMs, dependencies, null, TaskSpec.DefaultPriority, null, null, 3);

    /// <summary>Each task depends on up to three random earlier ones.</summary>
    private static List<TaskSpec> RandomDag(int count, int seed)
    {
        var random = new Random(seed);
        var specs = new List<TaskSpec>(count);
        for (var i = 0; i < count; i++)
        {
            var dependencies = i == 0 ? [] : Enumerable.Range(0, random.Next(0, 4)).Select(_ => $"t{random.Next(0, i):000}").Distinct().ToArray();
            specs.Add(Spec($"t{i:000}", random.Next(5, 25), dependencies));
        }

        return specs;
    }

    private static async Task<Dictionary<string, IReadOnlyList<TaskEvent>>> HistoryAsync(TestCluster.TestCluster cluster, IEnumerable<TaskSpec> specs)
    {
        var history = new Dictionary<string, IReadOnlyList<TaskEvent>>();
        foreach (var spec in specs)
        {
            history[spec.Id] = await cluster.Grains.GetTaskGrain(spec.Id).GetEventsAsync() ?? [];
        }

        return history;
    }

    /// <summary>Most attempts RUNNING at one time, from the recorded transitions. A slot freed and
    /// re-claimed in the same commit share a timestamp: ends sort before starts.</summary>
    private static int MaxRunning(IEnumerable<IReadOnlyList<TaskEvent>> histories)
    {
        var points = new List<(DateTimeOffset At, int Delta)>();
        foreach (var events in histories)
        {
            foreach (var e in events)
            {
                if (e.To == TaskStatus.Running)
                {
                    points.Add((e.At, +1));
                }
                else if (e.From == TaskStatus.Running)
                {
                    points.Add((e.At, -1));
                }
            }
        }

        var running = 0;
        var max = 0;
        foreach (var (_, delta) in points.OrderBy(p => p.At).ThenBy(p => p.Delta))
        {
            running += delta;
            max = Math.Max(max, running);
        }

        return max;
    }
}

public sealed class SqliteClusterProperties : ClusterProperties
{
    protected override ClusterDatabase CreateDatabase() => new SqliteClusterDatabase();
}

public sealed class PostgresClusterProperties : ClusterProperties
{
    protected override ClusterDatabase CreateDatabase() => new PostgresClusterDatabase();
}
