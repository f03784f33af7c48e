using System.Globalization;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Workers;

/// <summary>Issue 11, point 12: two reference worker processes; SIGKILL one while it runs tasks.
/// With the default lease settings the server declares it dead, re-queues its tasks (the lost
/// attempt counted) and the other worker runs them: every task completes exactly once.</summary>
public sealed class WorkerKillTests(ITestOutputHelper log) : WorkerProcessTest(log)
{
    [Fact]
    public async Task A_worker_killed_while_it_runs_tasks_has_them_completed_once_each_by_the_other()
    {
        // Room for both workers' 4 tasks at once under the cluster-wide limit.
        await StartServerAsync(new Dictionary<string, string> { ["Scheduler__MaxConcurrentTasks"] = "8" });
        var victim = await StartWorkerAsync("victim", "--capabilities", WorkType, "--max-concurrent", "4");
        var survivor = await StartWorkerAsync("survivor", "--capabilities", WorkType, "--max-concurrent", "4");

        // 3 s each: 16 tasks take two rounds on the two workers, so the victim is mid-task when killed.
        var ids = new List<string>();
        for (var i = 0; i < 16; i++)
        {
            ids.Add(await Api.SubmitAsync("/api/tasks", new { id = $"work-{i:00}", type = WorkType, payload = new { duration_ms = 3000 } }));
        }

        // The task list shows no worker: the worker's own view lists what it holds.
        var holding = await Poll.UntilAsync(
            "the victim runs tasks",
            () => Api.GetAsync("/api/workers/victim"),
            w => w["current_tasks"]?.AsArray().Count > 0 && w["system_info"] is not null,
            w => $"{w.ToJsonString()}\n{Diagnostics()}",
            Patience);

        // Its heartbeats carry the machine's real figures.
        var listed = holding;
        Assert.Equal("external", (string?)listed["kind"]);
        foreach (var usage in new[] { "cpu_usage", "memory_usage", "disk_usage" })
        {
            var value = (double?)listed["system_info"]?[usage];
            Assert.True(value is >= 0 and <= 100, $"system_info.{usage} = {value}: {listed.ToJsonString()}");
        }

        victim.KillHard();
        var killedAt = DateTimeOffset.UtcNow;
        var heldAtKill = Held(victim.Lines);
        Log.WriteLine($"{killedAt:HH:mm:ss.fff} SIGKILL victim holding {string.Join(", ", heldAtKill)} (the server listed {holding["current_tasks"]!.ToJsonString()} just before)");
        Assert.NotEmpty(heldAtKill);

        var tasks = await WaitAllCompletedAsync(ids);

        var lost = new List<string>();
        foreach (var task in tasks)
        {
            var id = (string)task["id"]!;
            var events = await EventsAsync(id);
            Assert.True(CompletedTransitions(events) == 1, $"{id} completed {CompletedTransitions(events)} times: {Describe(events)}");
            if (events.Any(e => (string?)e["silo_id"] == "victim" && (string?)e["from"] == "RUNNING" && (string?)e["to"] == "QUEUED"))
            {
                lost.Add(id);
                Assert.True((string?)task["worker_id"] == "survivor", $"{id} lost on the victim ended on {task["worker_id"]}: {Describe(events)}");
                Assert.True((int)task["attempts"]! == 2, $"{id}: the lost attempt counts: {Describe(events)}");
                // Issue 11: the defaults re-queue a dead worker's task within 10 s (the re-run then
                // waits for the survivor's free capacity).
                var requeued = events.Single(e => (string?)e["silo_id"] == "victim" && (string?)e["to"] == "QUEUED");
                var rerun = events.Last(e => (string?)e["to"] == "RUNNING");
                var requeuedAfter = At(requeued) - killedAt;
                Log.WriteLine($"{id} re-queued {requeuedAfter.TotalSeconds:0.00} s after the kill ({requeued["reason"]}), re-leased to {rerun["silo_id"]} after {(At(rerun) - killedAt).TotalSeconds:0.00} s");
                Assert.True(requeuedAfter < TimeSpan.FromSeconds(10), $"{id} was re-queued {requeuedAfter.TotalSeconds:0.00} s after the kill: {Describe(events)}");
            }
        }

        // Every task the victim held when it died was lost and re-run, unless its report reached the
        // server in the instant before the kill.
        foreach (var id in heldAtKill)
        {
            var task = tasks.Single(t => (string?)t["id"] == id);
            Assert.True(lost.Contains(id) || (string?)task["worker_id"] == "victim", $"{id}, held by the victim, was neither lost nor completed by it: {Describe(await EventsAsync(id))}");
        }

        Assert.NotEmpty(lost);
        var survivorLog = survivor.Lines;
        foreach (var id in lost)
        {
            Assert.Contains(survivorLog, l => l.EndsWith($" task {id} completed", StringComparison.Ordinal));
        }

        var workers = await Api.ListAsync("/api/workers");
        Assert.Equal("DEAD", (string?)workers.Single(w => (string?)w["id"] == "victim")["status"]);
        Assert.Equal("ACTIVE", (string?)workers.Single(w => (string?)w["id"] == "survivor")["status"]);
    }

    private static DateTimeOffset At(JsonObject e) => DateTimeOffset.Parse((string)e["at"]!, CultureInfo.InvariantCulture);

    /// <summary>The tasks a reference worker's log shows leased and not yet finished.</summary>
    private static HashSet<string> Held(IReadOnlyList<string> lines)
    {
        var held = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var leased = line.IndexOf(" leased ", StringComparison.Ordinal);
            if (leased >= 0 && line.IndexOf("): ", leased, StringComparison.Ordinal) is var colon and > 0)
            {
                held.UnionWith(line[(colon + 3)..].Split(", "));
            }
            else if (line.Split(' ') is [_, "task", var id, ..])
            {
                held.Remove(id);
            }
        }

        return held;
    }
}
