using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Workers;

/// <summary>Issue 11, point 12: a worker frozen (SIGSTOP) past its lease. The server declares it
/// dead and another worker completes its task; woken (SIGCONT), the frozen worker finishes the task
/// and reports it with its stale lease token: the server answers 409, which the worker logs as a lost
/// lease, and the task stays completed once, by the other worker.</summary>
public sealed class WorkerPauseTests(ITestOutputHelper log) : WorkerProcessTest(log)
{
    [Fact]
    public async Task A_worker_frozen_past_its_lease_has_its_late_report_rejected_and_the_task_completes_once()
    {
        // Short leases so the test does not wait the default 6 s twice.
        await StartServerAsync(new Dictionary<string, string>
        {
            ["Workers__HeartbeatInterval"] = "00:00:00.500",
            ["Workers__LeaseDuration"] = "00:00:02",
            ["Workers__DeadAfter"] = "00:00:02",
        });
        // One task at a time: with hang-1 leased it has no lease poll parked at the server while it
        // is frozen. (A parked poll may be answered with hang-1 again, as its next attempt, before
        // the server declares the worker dead; woken, the worker then drops its stale first run for
        // the new lease, and there is no late report to reject.)
        var frozen = await StartWorkerAsync("frozen", "--capabilities", WorkType, "--max-concurrent", "1");
        await Api.SubmitAsync("/api/tasks", new { id = "hang-1", type = WorkType, payload = new { duration_ms = 1500 } });
        await frozen.WaitForLineAsync("leasing hang-1", l => l.Contains(" leased 1 task(s): hang-1", StringComparison.Ordinal), Patience);
        frozen.Pause();

        // Started only now, so the task was the frozen one's first.
        var other = await StartWorkerAsync("other", "--capabilities", WorkType);
        var done = await Poll.UntilAsync(
            "hang-1 is COMPLETED by the other worker",
            () => Api.GetAsync("/api/tasks/hang-1"),
            t => (string?)t["status"] == "COMPLETED",
            t => $"{t.ToJsonString()}\n{Diagnostics()}",
            Patience);
        Assert.Equal("other", (string?)done["worker_id"]);

        frozen.Resume();
        var rejected = await frozen.WaitForLineAsync(
            "its late report of hang-1 rejected",
            l => l.Contains(" task hang-1 lease lost (409)", StringComparison.Ordinal),
            Patience);
        Log.WriteLine($"frozen worker after SIGCONT: {rejected}");

        var task = await Api.GetAsync("/api/tasks/hang-1");
        var events = await EventsAsync("hang-1");
        Assert.True(CompletedTransitions(events) == 1, $"hang-1 completed {CompletedTransitions(events)} times: {Describe(events)}");
        Assert.Equal("COMPLETED", (string?)task["status"]);
        Assert.Equal("other", (string?)task["worker_id"]);
        Assert.True((int)task["attempts"]! == 2, $"hang-1 attempts {task["attempts"]}: {Describe(events)}");
        Assert.Contains(events, e => (string?)e["silo_id"] == "frozen" && (string?)e["from"] == "RUNNING" && (string?)e["to"] == "QUEUED");
        Assert.DoesNotContain(frozen.Lines, l => l.Contains(" task hang-1 completed", StringComparison.Ordinal));
    }
}
