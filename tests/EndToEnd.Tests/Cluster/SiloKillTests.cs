using System.Globalization;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>Issues 3 and 9: SIGKILL one of three silo processes while its tasks run (a real crash:
/// TestCluster's KillSiloAsync is a graceful stop in disguise). Orleans' membership declares the
/// silo dead; recovery then finds its attempts lost (recorded as such, counted) and the other silos
/// re-run them; every acknowledged task still ends COMPLETED exactly once, and /api/workers lists
/// the killed silo DEAD and the others ACTIVE. Prints the time from the kill to each re-run's start;
/// issue 9 bounds it at 5 s.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SiloKillTests(ITestOutputHelper log) : ProcessClusterTest(log)
{
    /// <summary>Issue 9: a SIGKILLed silo's tasks re-run within 5 s.</summary>
    private static readonly TimeSpan RerunBound = TimeSpan.FromSeconds(5);

    [SkippableFact]
    public async Task A_sigkilled_silos_tasks_are_re_run_by_the_others_and_every_task_completes_once()
    {
        var server = TestPostgres.RequireServer();
        var cluster = await StartClusterAsync(server);
        var api = cluster.Api;

        // A DAG: one long root per slot, all running at once; their dependents wait, so no queued
        // task competes for the slots the kill frees and a re-run starts as soon as it may.
        var dag = new List<object>();
        for (var i = 0; i < ProcessCluster.MaxConcurrentTasks; i++)
        {
            dag.Add(new { id = $"root-{i}", type = "e2e", duration_ms = 6000 });
        }

        for (var i = 0; i < 2 * ProcessCluster.MaxConcurrentTasks; i++)
        {
            dag.Add(new { id = $"child-{i:00}", type = "e2e", duration_ms = 300, dependencies = new[] { $"root-{i % ProcessCluster.MaxConcurrentTasks}" } });
        }

        dag.Add(new { id = "join", type = "e2e", duration_ms = 100, dependencies = Enumerable.Range(0, 2 * ProcessCluster.MaxConcurrentTasks).Select(i => $"child-{i:00}").ToArray() });
        var acknowledged = await api.SubmitBatchAsync(dag);

        // Every slot held: the roots run, some of them on the silo about to die.
        var holders = await cluster.WaitAllSlotsRunningAsync();
        var victim = holders.GroupBy(h => h.Silo).OrderByDescending(g => g.Count()).First().Key;
        var heldAtKill = holders.Where(h => h.Silo == victim).ToList();
        var killedAt = DateTimeOffset.UtcNow;
        cluster.Silo(victim).KillHard();
        Log.WriteLine($"{killedAt:HH:mm:ss.fff} SIGKILL {victim}, holding {string.Join(", ", heldAtKill.Select(h => $"{h.Task} (attempt {h.Attempt})"))}; slots: {string.Join(", ", holders)}");

        await cluster.WaitAsync(
            $"the tasks {victim} held run again on another silo",
            () => cluster.TaskStatesAsync(heldAtKill.Select(h => h.Task)),
            tasks => tasks.All(t => t.Status == "COMPLETED" || (t.Status == "RUNNING" && t.Worker != victim)),
            tasks => string.Join(", ", tasks.Select(t => $"{t.Id}={t.Status}@{t.Worker}")));

        // The cluster goes on taking work.
        for (var i = 0; i < 6; i++)
        {
            acknowledged.Add(await api.SubmitAsync("/api/tasks", new { id = $"after-kill-{i}", type = "e2e", duration_ms = 200 }));
        }

        var all = await cluster.WaitAllCompletedAsync(acknowledged);

        // None lost, none invented.
        Assert.Equal(acknowledged.Order(StringComparer.Ordinal), all.Select(t => (string)t["id"]!).Order(StringComparer.Ordinal));
        var events = await cluster.AssertCompletedExactlyOnceAsync(acknowledged);

        // Dependencies held through the kill: a child was released by its root's completion before
        // it ran (by the order of its events, which is the order of the commits; their times are
        // each turn's transaction start, so a claim that began before the root's completion
        // committed, and saw it, is stamped a little earlier than the completion).
        for (var i = 0; i < 2 * ProcessCluster.MaxConcurrentTasks; i++)
        {
            var child = events[$"child-{i:00}"].ToList();
            var released = child.FindIndex(e => e.From == "WAITING" && e.To == "QUEUED");
            var ran = child.FindIndex(e => e.To == "RUNNING");
            Assert.True(released >= 0 && released < ran,
                $"child-{i:00} ran before it was released by root-{i % ProcessCluster.MaxConcurrentTasks}'s completion:\n{TaskEventRecord.Describe(child)}");
        }

        // Nothing completed by the dead silo after its death.
        foreach (var (id, history) in events)
        {
            var completed = history.Single(e => e.To == "COMPLETED");
            Assert.False(completed.Silo == victim && completed.At > killedAt.AddMilliseconds(100),
                $"{id} completed by {victim} at {completed.At:O}, after it was killed at {killedAt:O}:\n{TaskEventRecord.Describe(history)}");
        }

        // The killed silo's attempts were recorded lost and re-run by the others.
        var reclaimed = events.Where(e => e.Value.Any(v => v.IsLeaseLost && v.Silo == victim)).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        Assert.True(reclaimed.Count > 0, $"no task shows {victim}'s attempt recorded lost; held at the kill: {string.Join(", ", heldAtKill.Select(h => h.Task))}\n{await cluster.DescribeAsync()}");
        foreach (var held in heldAtKill)
        {
            var history = events[held.Task];
            var finishedBeforeKill = history.Any(e => e.From == "RUNNING" && e.Silo == victim && e.Attempt == held.Attempt && !e.IsLeaseLost && e.At <= killedAt);
            Assert.True(reclaimed.Contains(held.Task) || finishedBeforeKill,
                $"{held.Task} was held by {victim} (attempt {held.Attempt}) at the kill, but that attempt was not recorded lost:\n{TaskEventRecord.Describe(history)}");
        }

        var lines = new List<string>();
        var delays = new List<double>();
        foreach (var id in reclaimed.Order(StringComparer.Ordinal))
        {
            var history = events[id];
            var lost = history.First(e => e.IsLeaseLost && e.Silo == victim);
            Assert.True(lost.At > killedAt, $"{id}: {victim}'s attempt was recorded lost at {lost.At:O}, before the kill at {killedAt:O}:\n{TaskEventRecord.Describe(history)}");
            var rerun = history.FirstOrDefault(e => e.At >= lost.At && e.From == "QUEUED" && e.To == "RUNNING" && e.Attempt == lost.Attempt + 1);
            Assert.True(rerun is not null, $"{id}: no re-run (attempt {lost.Attempt + 1}) after the attempt was recorded lost:\n{TaskEventRecord.Describe(history)}");
            Assert.True(rerun!.Silo != victim, $"{id} was re-run by the killed silo {victim}:\n{TaskEventRecord.Describe(history)}");
            var delay = (rerun.At - killedAt).TotalSeconds;
            delays.Add(delay);
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"  {id}: recorded lost +{(lost.At - killedAt).TotalSeconds:0.000} s ({lost.Reason}), re-run on {rerun.Silo} +{delay:0.000} s"));
        }

        delays.Sort();
        var median = delays.Count % 2 == 1 ? delays[delays.Count / 2] : (delays[(delays.Count / 2) - 1] + delays[delays.Count / 2]) / 2;
        // When the survivors learnt of the death: their "Recovering ... was declared dead" lines, as
        // stamped on arrival here.
        var declared = cluster.Silos.Where(p => p.Name != victim)
            .SelectMany(p => p.Lines.Where(l => l.Contains($"silo {victim} was declared dead", StringComparison.Ordinal)))
            .Select(l => new DateTimeOffset(killedAt.UtcDateTime.Date, TimeSpan.Zero) + TimeSpan.ParseExact(l.Split(' ', 3)[2][..12], @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture))
            .DefaultIfEmpty()
            .Min();
        Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"KILL-TO-RERUN {victim}: {delays.Count} tasks, median {median:0.000} s, min {delays[0]:0.000} s, max {delays[^1]:0.000} s; " +
            $"a survivor saw it declared dead after {(declared == default ? "?" : (declared - killedAt).TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture))} s"));
        foreach (var line in lines)
        {
            Log.WriteLine(line);
        }

        Assert.True(delays[^1] <= RerunBound.TotalSeconds, $"a task of the killed {victim} re-ran {delays[^1]:0.000} s after the kill; the bound is {RerunBound.TotalSeconds} s");

        // Membership: the killed silo is DEAD, the others ACTIVE.
        var others = cluster.Silos.Select(s => s.Name).Where(n => n != victim).ToList();
        await cluster.WaitAsync(
            $"/api/workers lists {victim} DEAD and {string.Join(", ", others)} ACTIVE",
            cluster.WorkersAsync,
            workers => workers.Any(w => (string?)w["id"] == victim && (string?)w["status"] == "DEAD")
                && others.All(o => workers.Any(w => (string?)w["id"] == o && (string?)w["status"] == "ACTIVE")),
            workers => new JsonArray([.. workers.Select(w => w.DeepClone())]).ToJsonString());

        // The last slot goes back through its silo's batcher just after the last completion is written.
        var stats = await Poll.UntilAsync("every slot is given back", () => api.GetAsync("/api/stats"),
            s => (int)s["slots"]!["in_use"]! == 0, s => s.ToJsonString(), TimeSpan.FromSeconds(10));
        Assert.Equal(acknowledged.Count, (long)stats["counts"]!["COMPLETED"]!);
    }
}
