using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Workers;

/// <summary>Issue 11, point 10: the reference worker reconnects after the server restarts. The
/// server is killed with SIGKILL while the worker runs its tasks and started again on the same
/// database: the worker's registration was kept (Orleans' grain storage), its tasks ran on through
/// the outage, their reports are retried until the server answers, and each task completes once,
/// as its first attempt, on that worker.</summary>
public sealed class WorkerServerRestartTests(ITestOutputHelper log) : WorkerProcessTest(log)
{
    [Fact]
    public async Task A_worker_rides_out_a_server_killed_and_restarted_and_its_tasks_complete_as_their_first_attempt()
    {
        await StartServerAsync(new Dictionary<string, string>());
        var worker = await StartWorkerAsync("steady", "--capabilities", WorkType, "--max-concurrent", "3");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await Api.SubmitAsync("/api/tasks", new { id = $"through-{i}", type = WorkType, payload = new { duration_ms = 4000 } }));
        }

        await Poll.UntilAsync(
            "the worker holds all three tasks",
            () => Api.GetAsync("/api/workers/steady"),
            w => w["current_tasks"]?.AsArray().Count == 3,
            w => $"{w.ToJsonString()}\n{Diagnostics()}",
            Patience);

        // Down for longer than the lease (6 s): the worker logs a report's first failure and its
        // tenth retry (backoff 0.1 s doubling to 2 s: about 13 s later); a worker that gave up a
        // report after the lease duration lost that result and the task ran a second attempt.
        Server.KillHard();
        await Poll.UntilAsync(
            "a report has failed for over 10 retries while the server is down",
            () => Task.FromResult(worker.Lines.Where(l => l.Contains("report not answered", StringComparison.Ordinal)).ToList()),
            lines => lines.GroupBy(l => l.Split(' ')[2]).Any(g => g.Count() >= 2),
            lines => string.Join("\n", lines) + "\n" + Diagnostics(),
            Patience);
        Server.Start();
        await Api.WaitReadyAsync(Server, Patience);

        var tasks = await WaitAllCompletedAsync(ids);
        foreach (var task in tasks)
        {
            var id = (string)task["id"]!;
            var events = await EventsAsync(id);
            Assert.True(CompletedTransitions(events) == 1, $"{id} completed {CompletedTransitions(events)} times: {Describe(events)}");
            Assert.True((int?)task["attempts"] == 1 && (string?)task["worker_id"] == "steady",
                $"{id}: attempts {task["attempts"]} on {task["worker_id"]}, not its first attempt on the worker: {Describe(events)}\n{Diagnostics()}");
        }

        Assert.DoesNotContain(worker.Lines, l => l.Contains("registering again", StringComparison.Ordinal));
        var listed = await Api.GetAsync("/api/workers/steady");
        Assert.Equal("ACTIVE", (string?)listed["status"]);
    }
}
