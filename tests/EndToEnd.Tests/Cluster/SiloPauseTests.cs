using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>Issue 3, point 9: SIGSTOP one of three silo processes while it holds tasks, past its
/// lease; the others re-run its tasks; SIGCONT it. Its late reports are rejected (each task keeps
/// exactly one COMPLETED event, by another silo) and it says so in its log; then it heartbeats back
/// to ACTIVE and goes on running new tasks.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SiloPauseTests(ITestOutputHelper log) : ProcessClusterTest(log)
{
    [SkippableFact]
    public async Task A_silo_stopped_past_its_lease_has_its_late_completions_rejected_and_then_works_on()
    {
        var server = TestPostgres.RequireServer();
        var cluster = await StartClusterAsync(server);
        var api = cluster.Api;

        // One 4 s root per slot, so the stopped silo holds some of them; dependents wait behind.
        var dag = new List<object>();
        for (var i = 0; i < ProcessCluster.MaxConcurrentTasks; i++)
        {
            dag.Add(new { id = $"root-{i}", type = "e2e", duration_ms = 4000 });
            dag.Add(new { id = $"child-{i}", type = "e2e", duration_ms = 200, dependencies = new[] { $"root-{i}" } });
        }

        var acknowledged = await api.SubmitBatchAsync(dag);
        var holders = await cluster.WaitAsync(
            $"all {ProcessCluster.MaxConcurrentTasks} slots are held",
            cluster.SlotHoldersAsync,
            h => h.Count == ProcessCluster.MaxConcurrentTasks,
            h => $"{h.Count} holders: {string.Join(", ", h)}");
        var victimId = holders.GroupBy(h => h.Silo).OrderByDescending(g => g.Count()).First().Key;
        var victim = cluster.Silo(victimId);
        var others = cluster.Silos.Where(s => s != victim).ToList();
        var held = holders.Where(h => h.Silo == victimId).ToList();
        var pausedAt = DateTimeOffset.UtcNow;
        victim.Pause();
        Log.WriteLine($"{pausedAt:HH:mm:ss.fff} SIGSTOP {victimId} (pid {victim.Pid}), holding {string.Join(", ", held.Select(h => $"{h.Task} (attempt {h.Attempt})"))}");

        // Silent past SiloDeadAfter: listed DEAD while it is stopped.
        await cluster.WaitAsync(
            $"/api/workers lists the stopped {victimId} DEAD",
            cluster.WorkersAsync,
            workers => workers.Any(w => (string?)w["id"] == victimId && (string?)w["status"] == "DEAD"),
            workers => new JsonArray([.. workers.Select(w => w.DeepClone())]).ToJsonString());

        // Past its lease the others re-run its tasks, to completion, while it is still stopped.
        var heldIds = held.Select(h => h.Task).ToList();
        await cluster.WaitAllCompletedAsync(heldIds);
        var before = await cluster.AssertCompletedExactlyOnceAsync(heldIds);
        foreach (var h in held)
        {
            var history = before[h.Task];
            Assert.True(history.Any(e => e.IsLeaseLost && e.Silo == victimId && e.Attempt == h.Attempt),
                $"{h.Task}: {victimId}'s attempt {h.Attempt} was not reclaimed on lease expiry:\n{TaskEventRecord.Describe(history)}");
            var completed = history.Single(e => e.To == "COMPLETED");
            Assert.True(completed.Silo != victimId, $"{h.Task} was completed by the stopped {victimId}:\n{TaskEventRecord.Describe(history)}");
        }

        Assert.True(victim.IsRunning, $"{victimId} exited while stopped\n{victim.Output()}");
        var resumedAt = DateTimeOffset.UtcNow;
        var linesBeforeResume = victim.Lines.Count;
        victim.Resume();
        Log.WriteLine($"{resumedAt:HH:mm:ss.fff} SIGCONT {victimId}");

        // It wakes up holding attempts that are no longer its own: each one's report is rejected by
        // the fence, or its next heartbeat finds the lease gone and stops the attempt.
        var told = await cluster.WaitAsync(
            $"{victimId} logs, for each of {string.Join(", ", heldIds)}, that its report was rejected or its lease lost",
            () => Task.FromResult(victim.Lines.Skip(linesBeforeResume).ToList()),
            lines => held.All(h => lines.Any(l => Rejected(l, h.Task, h.Attempt))),
            lines => $"{lines.Count} lines since SIGCONT:\n{string.Join("\n", lines)}");
        foreach (var line in told.Where(l => held.Any(h => Rejected(l, h.Task, h.Attempt))))
        {
            Log.WriteLine($"  {victimId}: {line}");
        }

        // Its late reports changed nothing: still one COMPLETED each, by another silo, and no event
        // of the resumed silo on those tasks.
        var after = await cluster.AssertCompletedExactlyOnceAsync(heldIds);
        foreach (var h in held)
        {
            var history = after[h.Task];
            Assert.True(history.SequenceEqual(before[h.Task]), $"{h.Task}'s events changed after {victimId} resumed:\n{TaskEventRecord.Describe(history)}");
            var task = await api.GetAsync($"/api/tasks/{h.Task}");
            Assert.Equal("COMPLETED", (string?)task["status"]);
            Assert.NotEqual(victimId, (string?)task["worker_id"]);
        }

        // Its heartbeat makes it ACTIVE again.
        await cluster.WaitAsync(
            $"/api/workers lists the resumed {victimId} ACTIVE",
            cluster.WorkersAsync,
            workers => workers.Any(w => (string?)w["id"] == victimId && (string?)w["status"] == "ACTIVE"),
            workers => new JsonArray([.. workers.Select(w => w.DeepClone())]).ToJsonString());
        var all = await cluster.WaitAllCompletedAsync(acknowledged);
        Assert.Equal(acknowledged.Order(StringComparer.Ordinal), all.Select(t => (string)t["id"]!).Order(StringComparer.Ordinal));
        await cluster.AssertCompletedExactlyOnceAsync(acknowledged);

        // And it works on: with the other silos gone, new tasks complete, on it.
        foreach (var other in others)
        {
            other.KillHard();
        }

        var fresh = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            fresh.Add(await api.SubmitAsync("/api/tasks", new { id = $"after-resume-{i}", type = "e2e", duration_ms = 200 }));
        }

        await cluster.WaitAllCompletedAsync(fresh);
        var freshEvents = await cluster.AssertCompletedExactlyOnceAsync(fresh);
        foreach (var (id, history) in freshEvents)
        {
            Assert.True(history.Single(e => e.To == "COMPLETED").Silo == victimId,
                $"{id} was completed by another silo than the resumed {victimId}, the only one alive:\n{TaskEventRecord.Describe(history)}");
        }
    }

    /// <summary>Executor's "Report of task X attempt N was rejected..." or "Lost the lease of task X
    /// attempt N ...".</summary>
    private static bool Rejected(string line, string task, int attempt) =>
        line.Contains($"task {task} attempt {attempt} ", StringComparison.Ordinal)
        && (line.Contains("was rejected", StringComparison.Ordinal) || line.Contains("Lost the lease", StringComparison.Ordinal));
}
