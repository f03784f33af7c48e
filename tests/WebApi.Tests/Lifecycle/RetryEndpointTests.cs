using System.Net;
using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 6: POST /api/tasks/{id}/retry re-arms a failed task with fresh attempts and
/// brings its UPSTREAM_FAILED subgraph back, so one call re-runs it.</summary>
public sealed class RetryEndpointTests
{
    [Fact]
    public async Task Retrying_a_FAILED_task_rearms_it_and_its_whole_failed_subgraph()
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 1, services: probe.Register);
        try
        {
            //   fetch (flaky) -> parse -> publish
            //   fetch, config (completed) -> index
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "config", ["type"] = "etl" });
            await scheduler.WaitForStatusAsync("config", "COMPLETED");
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "fetch", ["type"] = FlakyHandler.Type, ["max_attempts"] = 2, ["retry_backoff_ms"] = 0 });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "parse", ["type"] = "etl", ["dependencies"] = new JsonArray("fetch") });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "publish", ["type"] = "etl", ["dependencies"] = new JsonArray("parse") });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "index", ["type"] = "etl", ["dependencies"] = new JsonArray("fetch", "config") });

            var failed = await scheduler.WaitForStatusAsync("fetch", "FAILED");
            Assert.Equal(2, (int)failed["attempts"]!);
            string[] downstream = ["parse", "publish", "index"];
            await scheduler.WaitForStatusAsync(downstream, "UPSTREAM_FAILED");

            // A task whose dependency FAILED cannot be retried on its own; nothing changes.
            foreach (var id in new[] { "parse", "index" })
            {
                using var response = await scheduler.PostAsync($"/api/tasks/{id}/retry", "");
                await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "fetch", "FAILED");
                Assert.Equal("UPSTREAM_FAILED", Status(await scheduler.GetAsync(id)));
            }

            using (var response = await scheduler.PostAsync("/api/tasks/publish/retry", ""))
            {
                await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "parse", "UPSTREAM_FAILED");
            }

            // Hold the one slot so the re-armed graph can be seen before it runs.
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "blocker", ["type"] = GateHandler.Type, ["priority"] = 10 });
            await scheduler.WaitForStatusAsync("blocker", "RUNNING");

            probe.Failing = false;
            var retried = await scheduler.ActAsync("fetch", "retry");
            Assert.Equal("""{"id":"fetch","status":"QUEUED"}""", retried.ToJsonString());

            var fetch = await scheduler.GetAsync("fetch");
            Assert.Equal(("QUEUED", 0), (Status(fetch), (int)fetch["attempts"]!));
            Assert.Null(fetch["error"]);
            foreach (var id in downstream)
            {
                var task = await scheduler.GetAsync(id);
                Assert.True(Status(task) == "WAITING", task.ToJsonString());
                Assert.Equal("dependencies", (string)task["blocked_by"]!["reason"]!);
            }

            probe.Of("blocker").Release();
            await scheduler.WaitForStatusAsync(["fetch", .. downstream], "COMPLETED");

            fetch = await scheduler.GetAsync("fetch");
            Assert.True((int)fetch["attempts"]! == 1, $"attempts are not counted afresh: {fetch.ToJsonString()}");
            var events = await scheduler.EventsAsync("fetch");
            var starts = events.Where(e => (string)e!["to"]! == "RUNNING").Select(e => (int)e!["attempt"]!).ToList();
            Assert.Equal([1, 2, 1], starts);
            Assert.Contains(events, e => (string?)e!["from"] == "FAILED" && (string)e["to"]! == "QUEUED");
            foreach (var id in downstream)
            {
                Assert.Contains(await scheduler.EventsAsync(id),
                    e => (string?)e!["from"] == "UPSTREAM_FAILED" && (string)e["to"]! == "WAITING");
            }
        }
        finally
        {
            probe.ReleaseAll();
        }
    }

    [Fact]
    public async Task Retrying_a_CANCELLED_task_runs_it_and_its_dependents()
    {
        await using var scheduler = Start();
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "parent", ["type"] = "etl", ["run_at"] = Rfc3339(NowMs().AddHours(1)) });
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "kid", ["type"] = "etl", ["dependencies"] = new JsonArray("parent") });
        await scheduler.ActAsync("parent", "cancel");
        Assert.Equal("UPSTREAM_FAILED", Status(await scheduler.GetAsync("kid")));

        // run_at is still in the future, so the re-armed task waits for it again.
        var retried = await scheduler.ActAsync("parent", "retry");
        Assert.Equal("SCHEDULED", (string)retried["status"]!);
        Assert.Equal("run_at", (string)(await scheduler.GetAsync("parent"))["blocked_by"]!["reason"]!);
        Assert.Equal("WAITING", Status(await scheduler.GetAsync("kid")));
    }

    [Fact]
    public async Task Retrying_a_COMPLETED_or_QUEUED_task_is_409_and_an_unknown_id_404()
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 1, services: probe.Register);
        try
        {
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "done", ["type"] = "etl" });
            await scheduler.WaitForStatusAsync("done", "COMPLETED");
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "blocker", ["type"] = GateHandler.Type });
            await scheduler.WaitForStatusAsync("blocker", "RUNNING");
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "waiting-for-slot", ["type"] = "etl" });

            using (var response = await scheduler.PostAsync("/api/tasks/done/retry", ""))
            {
                await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "COMPLETED", "done");
            }

            using (var response = await scheduler.PostAsync("/api/tasks/waiting-for-slot/retry", ""))
            {
                await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "QUEUED", "waiting-for-slot");
            }

            using (var response = await scheduler.PostAsync("/api/tasks/blocker/retry", ""))
            {
                await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "RUNNING", "blocker");
            }

            using (var response = await scheduler.PostAsync("/api/tasks/ghost/retry", ""))
            {
                await ProblemJson.AssertAsync(response, HttpStatusCode.NotFound, "ghost");
            }

            var done = await scheduler.GetAsync("done");
            Assert.Equal(("COMPLETED", 1), (Status(done), (int)done["attempts"]!));
            Assert.Equal("QUEUED", Status(await scheduler.GetAsync("waiting-for-slot")));
            Assert.Single(await scheduler.EventsAsync("waiting-for-slot"));
        }
        finally
        {
            probe.ReleaseAll();
        }
    }
}
