using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests;

/// <summary>A task's life through the API, on the real in-process silo and simulator.</summary>
public sealed class LifecycleTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task A_dependent_goes_waiting_queued_running_completed_after_its_dependency()
    {
        using var api = app.Api();
        await api.SubmitAsync(new { id = "life-a", type = "t", duration_ms = 300 });

        var b = await api.SubmitAsync(new { id = "life-b", type = "t", duration_ms = 50, dependencies = new[] { "life-a" } });

        Assert.Equal("WAITING", (string)b["status"]!);
        var waiting = await api.GetTaskAsync("life-b");
        Assert.Equal("dependencies", (string)waiting["blocked_by"]!["reason"]!);
        Assert.Equal("life-a", (string)waiting["blocked_by"]!["dependencies"]![0]!["id"]!);

        var done = await api.WaitForStatusAsync(["life-a", "life-b"], "COMPLETED");

        Assert.True(Time(done["life-b"], "started_at") >= Time(done["life-a"], "completed_at"),
            $"life-b started at {done["life-b"]["started_at"]}, before life-a completed at {done["life-a"]["completed_at"]}");
        Assert.Equal(1, (int)done["life-b"]["attempts"]!);
        var events = await api.GetEventsAsync("life-b");
        Assert.Equal(
            ["->WAITING", "WAITING->QUEUED", "QUEUED->RUNNING", "RUNNING->COMPLETED"],
            events.Select(e => $"{(string?)e!["from"]}->{(string)e["to"]!}"));
        AssertOldestFirst(events);
        Assert.Equal(1, (int)events[2]!["attempt"]!);
        Assert.False(string.IsNullOrEmpty((string?)events[2]!["silo_id"]));
    }

    [Fact]
    public async Task Simulated_failures_are_retried_and_the_simulated_result_is_returned()
    {
        using var api = app.Api();

        await api.SubmitAsync(new
        {
            id = "flaky",
            type = "t",
            duration_ms = 10,
            max_attempts = 3,
            retry_backoff_ms = 20,
            payload = new { simulate = new { fail_attempts = 2, result = new { rows = 42, ok = true } } },
        });

        var done = (await api.WaitForAsync(["flaky"], s => s is "COMPLETED" or "FAILED", "flaky ends"))["flaky"];
        Assert.True((string)done["status"]! == "COMPLETED", done.ToJsonString());
        Assert.Equal(3, (int)done["attempts"]!);
        Assert.Equal("""{"rows":42,"ok":true}""", done["result"]!.ToJsonString());
        var events = await api.GetEventsAsync("flaky");
        AssertOldestFirst(events);
        var runs = events.Where(e => (string)e!["to"]! == "RUNNING").Select(e => (int)e!["attempt"]!).ToList();
        Assert.Equal([1, 2, 3], runs);
        var failures = events.Where(e => (string?)e!["from"] == "RUNNING" && (string)e["to"]! != "COMPLETED").ToList();
        Assert.Equal(2, failures.Count);
        Assert.All(failures, f => Assert.Contains("simulated failure", (string)f!["reason"]!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_task_that_fails_every_attempt_ends_failed_and_its_descendants_upstream_failed()
    {
        using var api = app.Api();
        // One batch, so the descendants are WAITING before the first attempt can even start.
        using (var batch = await api.PostJsonAsync("/api/tasks/batch", new object[]
        {
            new { id = "doomed", type = "t", max_attempts = 2, retry_backoff_ms = 20, payload = new { simulate = new { fail_attempts = 5 } } },
            new { id = "doomed-child", type = "t", dependencies = new[] { "doomed" } },
            new { id = "doomed-grandchild", type = "t", dependencies = new[] { "doomed-child" } },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, batch.StatusCode);
        }

        var end = await api.WaitForAsync(["doomed", "doomed-child", "doomed-grandchild"], s => s is "COMPLETED" or "FAILED" or "UPSTREAM_FAILED" or "CANCELLED", "the doomed family ends");

        Assert.Equal("FAILED", (string)end["doomed"]["status"]!);
        Assert.Equal(2, (int)end["doomed"]["attempts"]!);
        Assert.Contains("simulated failure of attempt 2", (string)end["doomed"]["error"]!, StringComparison.Ordinal);
        Assert.NotNull(end["doomed"]["completed_at"]);
        foreach (var id in new[] { "doomed-child", "doomed-grandchild" })
        {
            Assert.True((string)end[id]["status"]! == "UPSTREAM_FAILED", Api.Describe(end));
            Assert.Equal(0, (int)end[id]["attempts"]!);
            Assert.Null(end[id]["started_at"]);
            Assert.NotNull(end[id]["completed_at"]);
            Assert.Contains("doomed", (string)end[id]["error"]!, StringComparison.Ordinal);
            var events = await api.GetEventsAsync(id);
            Assert.Equal(["->WAITING", "WAITING->UPSTREAM_FAILED"], events.Select(e => $"{(string?)e!["from"]}->{(string)e["to"]!}"));
        }
    }

    [Fact]
    public async Task A_task_submitted_after_its_dependency_failed_says_which_one_like_any_upstream_failed_task()
    {
        using var api = app.Api();
        await api.SubmitAsync(new { id = "sunk", type = "t", max_attempts = 1, payload = new { simulate = new { fail_attempts = 1 } } });
        await api.WaitForStatusAsync(["sunk"], "FAILED");

        var late = await api.SubmitAsync(new { id = "sunk-late", type = "t", dependencies = new[] { "sunk" } });

        Assert.Equal("UPSTREAM_FAILED", (string)late["status"]!);
        var task = await api.GetTaskAsync("sunk-late");
        Assert.Equal(0, (int)task["attempts"]!);
        // Same status, same account as a task doomed while it waited: which upstream, and when it ended.
        Assert.True(((string?)task["error"])?.Contains("sunk", StringComparison.Ordinal) == true, $"error does not name the failed dependency: {task.ToJsonString()}");
        Assert.True(task["completed_at"] is not null, $"a terminal task without completed_at: {task.ToJsonString()}");
    }

    [Fact]
    public async Task An_attempt_past_its_timeout_fails()
    {
        using var api = app.Api();

        await api.SubmitAsync(new { id = "slowpoke", type = "t", duration_ms = 60_000, timeout_ms = 100, max_attempts = 1 });

        var end = (await api.WaitForAsync(["slowpoke"], s => s is "COMPLETED" or "FAILED", "slowpoke ends"))["slowpoke"];
        Assert.Equal("FAILED", (string)end["status"]!);
        Assert.Contains("timed out", (string)end["error"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_task_with_run_at_a_moment_ahead_is_scheduled_then_runs()
    {
        using var api = app.Api();
        // Whole milliseconds, the precision the API records times in.
        var runAt = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeMilliseconds());

        var created = await api.SubmitAsync(new { id = "later", type = "t", run_at = runAt.ToString("O", CultureInfo.InvariantCulture) });

        Assert.Equal("SCHEDULED", (string)created["status"]!);
        var done = (await api.WaitForStatusAsync(["later"], "COMPLETED"))["later"];
        Assert.True(Time(done, "started_at") >= runAt,
            $"started at {done["started_at"]}, before run_at {runAt:O}");
    }

    [Fact]
    public async Task Cancel_and_retry_through_the_api()
    {
        using var api = app.Api();
        await api.SubmitAsync(new { id = "cancel-me", type = "t", run_at = DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture) });
        await api.SubmitAsync(new { id = "cancel-child", type = "t", dependencies = new[] { "cancel-me" } });

        using (var cancel = await api.Http.PostAsync(new Uri("/api/tasks/cancel-me/cancel", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        Assert.Equal("CANCELLED", (string)(await api.GetTaskAsync("cancel-me"))["status"]!);
        Assert.Equal("UPSTREAM_FAILED", (string)(await api.GetTaskAsync("cancel-child"))["status"]!);
        using (var again = await api.Http.PostAsync(new Uri("/api/tasks/cancel-me/cancel", UriKind.Relative), null))
        {
            await Problem.AssertAsync(again, HttpStatusCode.Conflict, "cancel-me");
        }

        using (var retry = await api.Http.PostAsync(new Uri("/api/tasks/cancel-me/retry", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        }

        Assert.Equal("WAITING", (string)(await api.GetTaskAsync("cancel-child"))["status"]!);
        using var unknown = await api.Http.PostAsync(new Uri("/api/tasks/nobody/cancel", UriKind.Relative), null);
        await Problem.AssertAsync(unknown, HttpStatusCode.NotFound, "nobody");
    }

    private static DateTimeOffset Time(JsonObject task, string field) =>
        DateTimeOffset.Parse((string?)task[field] ?? throw new Xunit.Sdk.XunitException($"{task["id"]} has no {field}: {task.ToJsonString()}"), CultureInfo.InvariantCulture);

    private static void AssertOldestFirst(JsonArray events)
    {
        var times = events.Select(e => DateTimeOffset.Parse((string)e!["at"]!, CultureInfo.InvariantCulture)).ToList();
        Assert.True(times.Zip(times.Skip(1)).All(p => p.First <= p.Second), $"events not oldest first: {events.ToJsonString()}");
    }
}
