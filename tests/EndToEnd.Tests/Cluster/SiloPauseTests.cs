using System.Globalization;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>Issue 9: SIGSTOP one of three silo processes while it runs tasks, past failure
/// detection; SIGCONT it. Orleans' membership declares the frozen silo dead and the others re-run
/// its tasks (its attempts recorded lost). On SIGCONT its handlers end and it reports them, through
/// its own stale activations of those tasks: their writes fail on the ETag (the row moved on), so
/// nothing is recorded twice. Then Orleans stops it: a silo that finds itself dead in the membership
/// table calls its fatal error handler, which ends the process (Environment.FailFast); Orleans never
/// lets a silo declared dead come back. Started again, it joins as a new incarnation and works on.
/// The limit holds throughout.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SiloPauseTests(ITestOutputHelper log) : ProcessClusterTest(log)
{
    /// <summary>How long after the frozen silo is declared dead the front end may keep routing
    /// requests to it (its gateway list is refreshed every 5 s, SchedulerSiloExtensions).</summary>
    private static readonly TimeSpan FrontEndRecovery = TimeSpan.FromSeconds(30);

    /// <summary>Orleans' words when a silo learns it was declared dead (MembershipTableManager).</summary>
    private const string ToldDead = "I have been told I am dead, so this silo will stop";

    [SkippableFact]
    public async Task A_silo_frozen_past_failure_detection_is_replaced_its_late_reports_rejected_and_it_stops()
    {
        var server = TestPostgres.RequireServer();
        var cluster = await StartClusterAsync(server);
        var api = cluster.Api;

        // One 4 s root per slot, so the frozen silo runs some of them; dependents wait behind.
        var dag = new List<object>();
        for (var i = 0; i < ProcessCluster.MaxConcurrentTasks; i++)
        {
            dag.Add(new { id = $"root-{i}", type = "e2e", duration_ms = 4000 });
            dag.Add(new { id = $"child-{i}", type = "e2e", duration_ms = 200, dependencies = new[] { $"root-{i}" } });
        }

        var acknowledged = await api.SubmitBatchAsync(dag);
        var holders = await cluster.WaitAllSlotsRunningAsync();
        var victimId = holders.GroupBy(h => h.Silo).OrderByDescending(g => g.Count()).First().Key;
        var victim = cluster.Silo(victimId);
        var held = holders.Where(h => h.Silo == victimId).ToList();
        var heldIds = held.Select(h => h.Task).ToList();
        var pausedAt = DateTimeOffset.UtcNow;
        victim.Pause();
        Log.WriteLine($"{pausedAt:HH:mm:ss.fff} SIGSTOP {victimId} (pid {victim.Pid}), holding {string.Join(", ", held.Select(h => $"{h.Task} (attempt {h.Attempt})"))}");

        // Silent past failure detection: the others declare it dead in the membership table.
        await cluster.WaitAsync(
            $"the membership table lists the frozen {victimId} Dead",
            cluster.MembershipAsync,
            rows => rows.Any(r => r.Silo == victimId && r.Status == MembershipRow.Dead),
            MembershipRow.Describe);
        var declaredAt = DateTimeOffset.UtcNow;
        Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{victimId} declared dead (seen in the table) +{(declaredAt - pausedAt).TotalSeconds:0.00} s after SIGSTOP"));

        // The front end (an Orleans client) stops sending requests to the dead silo's gateway soon
        // after: three rounds in a row, every one of 20 requests (tasks of every silo, counters,
        // workers) is answered within 5 s. A request that went to the frozen gateway would wait for
        // Orleans' response timeout (30 s).
        var urls = acknowledged.Select(id => $"/api/tasks/{id}").Concat(["/api/stats", "/api/workers", "/api/tasks?limit=5"]).Take(20).ToList();
        var clean = 0;
        await cluster.WaitAsync(
            $"the front end answers every request within {ProcessCluster.ProbeTimeout.TotalSeconds:0} s, three rounds in a row",
            async () =>
            {
                var unanswered = await cluster.UnansweredAsync(urls);
                clean = unanswered.Count == 0 ? clean + 1 : 0;
                return unanswered;
            },
            _ => clean >= 3,
            unanswered => $"unanswered in the last round: {string.Join(", ", unanswered)}",
            FrontEndRecovery);
        Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the front end answered everything again {(DateTimeOffset.UtcNow - declaredAt).TotalSeconds:0.0} s after {victimId} was declared dead"));

        // The others re-run its tasks to completion while it is still frozen.
        await cluster.WaitAsync(
            $"the tasks {victimId} held are COMPLETED by the others",
            () => cluster.TaskStatesAsync(heldIds),
            tasks => tasks.All(t => t.Status == "COMPLETED"),
            tasks => string.Join(", ", tasks.Select(t => $"{t.Id}={t.Status}@{t.Worker}")));
        var before = await cluster.AssertCompletedExactlyOnceAsync(heldIds);
        foreach (var h in held)
        {
            var history = before[h.Task];
            Assert.True(history.Any(e => e.IsLeaseLost && e.Silo == victimId && e.Attempt == h.Attempt),
                $"{h.Task}: {victimId}'s attempt {h.Attempt} was not recorded lost:\n{TaskEventRecord.Describe(history)}");
            var completed = history.Single(e => e.To == "COMPLETED");
            Assert.True(completed.Silo != victimId, $"{h.Task} was completed by the frozen {victimId}:\n{TaskEventRecord.Describe(history)}");
        }

        Assert.True(victim.IsRunning, $"{victimId} exited while frozen\n{victim.Output()}");
        var linesBeforeResume = victim.Lines.Count;
        var resumedAt = DateTimeOffset.UtcNow;
        victim.Resume();
        Log.WriteLine($"{resumedAt:HH:mm:ss.fff} SIGCONT {victimId}");

        // It learns it is dead and Orleans ends the process.
        var lines = await cluster.WaitAsync(
            $"the resumed {victimId} finds itself dead and exits",
            () => Task.FromResult((Running: victim.IsRunning, Lines: victim.Lines.Skip(linesBeforeResume).ToList())),
            s => !s.Running,
            s => $"still running; {s.Lines.Count} lines since SIGCONT:\n{string.Join("\n", s.Lines.TakeLast(40))}");
        Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{victimId} exited {(DateTimeOffset.UtcNow - resumedAt).TotalSeconds:0.0} s after SIGCONT"));
        Assert.True(lines.Lines.Any(l => l.Contains(ToldDead, StringComparison.Ordinal)),
            $"{victimId} exited without Orleans saying it was told it is dead:\n{string.Join("\n", lines.Lines.TakeLast(60))}");

        // What it reported on the way was refused: each held task's report failed on the ETag (its
        // stale activation's write), or was rejected as not the live attempt; none was recorded.
        var rejected = held.Where(h => lines.Lines.Any(l => Rejected(l, h.Task, h.Attempt))).Select(h => h.Task).ToList();
        foreach (var line in lines.Lines.Where(l => held.Any(h => Rejected(l, h.Task, h.Attempt))))
        {
            Log.WriteLine($"  {victimId}: {line}");
        }

        Log.WriteLine($"late reports refused for {rejected.Count} of {held.Count} held tasks: {string.Join(", ", rejected)}");
        Assert.True(rejected.Count > 0, $"{victimId} logged no refused report for {string.Join(", ", heldIds)}:\n{string.Join("\n", lines.Lines.TakeLast(80))}");
        var after = await cluster.AssertCompletedExactlyOnceAsync(heldIds);
        foreach (var h in held)
        {
            var history = after[h.Task];
            Assert.True(history.SequenceEqual(before[h.Task]), $"{h.Task}'s events changed after {victimId} resumed:\n{TaskEventRecord.Describe(history)}");
        }

        var all = await cluster.WaitAllCompletedAsync(acknowledged);
        Assert.Equal(acknowledged.Order(StringComparer.Ordinal), all.Select(t => (string)t["id"]!).Order(StringComparer.Ordinal));
        var events = await cluster.AssertCompletedExactlyOnceAsync(acknowledged);
        var maxRunning = ProcessCluster.MaxRunning(events.Values);
        Assert.True(maxRunning <= ProcessCluster.MaxConcurrentTasks, $"{maxRunning} tasks were RUNNING at once by the events; the limit is {ProcessCluster.MaxConcurrentTasks}");

        // Started again, it joins as a new incarnation (a new row; the old one stays Dead) and works on.
        victim.Start();
        await cluster.WaitAsync(
            $"the restarted {victimId} is Active in the membership table and in /api/workers",
            async () => (Rows: await cluster.MembershipAsync(), Workers: await cluster.WorkersAsync()),
            s => s.Rows.Count(r => r.Silo == victimId) == 2 && s.Rows.Any(r => r.Silo == victimId && r.Status == MembershipRow.Active)
                && s.Workers.Any(w => (string?)w["id"] == victimId && (string?)w["status"] == "ACTIVE"),
            s => $"{MembershipRow.Describe(s.Rows)}; workers {new JsonArray([.. s.Workers.Select(w => w.DeepClone())]).ToJsonString()}");
        var fresh = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            fresh.Add(await api.SubmitAsync("/api/tasks", new { id = $"after-restart-{i}", type = "e2e", duration_ms = 200 }));
        }

        await cluster.WaitAllCompletedAsync(fresh);
        await cluster.AssertCompletedExactlyOnceAsync(fresh);
    }

    /// <summary>Executor's "Report of task X attempt N was rejected: ..." (a stale attempt, or a
    /// write that failed on the ETag because another activation owns the task).</summary>
    private static bool Rejected(string line, string task, int attempt) =>
        line.Contains($"Report of task {task} attempt {attempt} was rejected", StringComparison.Ordinal);
}
