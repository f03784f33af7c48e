using System.Net;
using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 5: POST /api/tasks/{id}/cancel.</summary>
public sealed class CancelTests
{
    [Fact]
    public async Task WAITING_and_SCHEDULED_tasks_are_CANCELLED_at_once_and_their_dependents_UPSTREAM_FAILED_transitively()
    {
        await using var scheduler = Start();
        var inAnHour = Rfc3339(NowMs().AddHours(1));
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "nightly", ["type"] = "etl", ["run_at"] = inAnHour });
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "load", ["type"] = "etl", ["dependencies"] = new JsonArray("nightly") });
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "report", ["type"] = "etl", ["dependencies"] = new JsonArray("load") });
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "side", ["type"] = "etl", ["run_at"] = inAnHour });
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "side-child", ["type"] = "etl", ["dependencies"] = new JsonArray("side") });
        Assert.Equal("SCHEDULED", Status(await scheduler.GetAsync("nightly")));
        Assert.Equal("WAITING", Status(await scheduler.GetAsync("load")));
        Assert.Equal("WAITING", Status(await scheduler.GetAsync("side-child")));

        // A WAITING task.
        var cancelled = await scheduler.ActAsync("side-child", "cancel");
        Assert.Equal("""{"id":"side-child","status":"CANCELLED"}""", cancelled.ToJsonString());
        var child = await scheduler.GetAsync("side-child");
        Assert.Equal("CANCELLED", Status(child));
        Assert.Null(child["blocked_by"]);
        var last = (await scheduler.EventsAsync("side-child"))[^1]!;
        Assert.Equal(("WAITING", "CANCELLED"), ((string)last["from"]!, (string)last["to"]!));
        Assert.Equal("SCHEDULED", Status(await scheduler.GetAsync("side")));

        // A SCHEDULED task, with a chain behind it.
        cancelled = await scheduler.ActAsync("nightly", "cancel");
        Assert.Equal("CANCELLED", (string)cancelled["status"]!);
        Assert.Equal("CANCELLED", Status(await scheduler.GetAsync("nightly")));
        foreach (var id in new[] { "load", "report" })
        {
            var dependent = await scheduler.GetAsync(id);
            Assert.True(Status(dependent) == "UPSTREAM_FAILED", dependent.ToJsonString());
            Assert.Contains("CANCELLED", (string)dependent["error"]!, StringComparison.Ordinal);
        }

        Assert.Contains("nightly", (string)(await scheduler.GetAsync("load"))["error"]!, StringComparison.Ordinal);
        var stats = await scheduler.StatsAsync();
        Assert.Equal(2, (long)stats["counts"]!["CANCELLED"]!);
        Assert.Equal(2, (long)stats["counts"]!["UPSTREAM_FAILED"]!);
        Assert.Equal(1, (long)stats["counts"]!["SCHEDULED"]!);
    }

    [Fact]
    public async Task A_QUEUED_task_is_CANCELLED_at_once_and_never_runs()
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 1, services: probe.Register);
        try
        {
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "blocker", ["type"] = GateHandler.Type });
            await scheduler.WaitForStatusAsync("blocker", "RUNNING");
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "queued", ["type"] = RecordingHandler.Type });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "after", ["type"] = RecordingHandler.Type });
            Assert.Equal("QUEUED", Status(await scheduler.GetAsync("queued")));

            Assert.Equal("CANCELLED", (string)(await scheduler.ActAsync("queued", "cancel"))["status"]!);
            Assert.Equal("CANCELLED", Status(await scheduler.GetAsync("queued")));

            probe.ReleaseAll();
            await scheduler.WaitForStatusAsync("after", "COMPLETED");
            var queued = await scheduler.GetAsync("queued");
            Assert.Equal(("CANCELLED", 0), (Status(queued), (int)queued["attempts"]!));
            Assert.DoesNotContain("queued", probe.StartOrder);
        }
        finally
        {
            probe.ReleaseAll();
        }
    }

    [Fact]
    public async Task A_RUNNING_task_is_CANCELLED_its_token_fires_its_slot_is_freed_and_its_dependents_fail()
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 1, services: probe.Register);
        try
        {
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "long", ["type"] = GateHandler.Type });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "child", ["type"] = "etl", ["dependencies"] = new JsonArray("long") });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "grandchild", ["type"] = "etl", ["dependencies"] = new JsonArray("child") });
            await scheduler.WaitForStatusAsync("long", "RUNNING");
            await Until.SignalAsync(probe.Of("long").Started, "the handler started", () => scheduler.DescribeAsync("long"));

            var cancelled = await scheduler.ActAsync("long", "cancel");
            Assert.Equal("CANCELLED", (string)cancelled["status"]!);
            Assert.Equal("CANCELLED", Status(await scheduler.GetAsync("long")));
            await Until.SignalAsync(probe.Of("long").Cancelled, "the handler's token fired", () => scheduler.DescribeAsync("long"));
            await Until.SignalAsync(probe.Of("long").Exited, "the handler returned", () => scheduler.DescribeAsync("long"));

            Assert.Equal("UPSTREAM_FAILED", Status(await scheduler.GetAsync("child")));
            Assert.Equal("UPSTREAM_FAILED", Status(await scheduler.GetAsync("grandchild")));

            // The one slot is free: the next task runs.
            await Until.TrueAsync("the slot is free", scheduler.StatsAsync,
                s => (int)s["slots"]!["in_use"]! == 0, s => s.ToJsonString(), TimeSpan.FromSeconds(10));
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "next", ["type"] = RecordingHandler.Type });
            await scheduler.WaitForStatusAsync("next", "COMPLETED");

            // The stopped handler's outcome was not recorded over the cancel.
            var task = await scheduler.GetAsync("long");
            Assert.True(Status(task) == "CANCELLED", await scheduler.DescribeAsync("long"));
            Assert.Null(task["result"]);
            var events = await scheduler.EventsAsync("long");
            var last = events[^1]!;
            Assert.Equal(("RUNNING", "CANCELLED", 1), ((string)last["from"]!, (string)last["to"]!, (int)last["attempt"]!));
            Assert.Single(events, e => (string)e!["to"]! == "CANCELLED");
        }
        finally
        {
            probe.ReleaseAll();
        }
    }

    [Fact]
    public async Task Cancelling_a_terminal_task_is_409_naming_its_status_and_an_unknown_id_404()
    {
        await using var scheduler = Start();
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "finished", ["type"] = "etl" });
        await scheduler.WaitForStatusAsync("finished", "COMPLETED");
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "stopped", ["type"] = "etl", ["run_at"] = Rfc3339(NowMs().AddHours(1)) });
        await scheduler.ActAsync("stopped", "cancel");

        using (var response = await scheduler.PostAsync("/api/tasks/finished/cancel", ""))
        {
            await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "COMPLETED", "finished");
        }

        using (var response = await scheduler.PostAsync("/api/tasks/stopped/cancel", ""))
        {
            await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "CANCELLED", "stopped");
        }

        using (var response = await scheduler.PostAsync("/api/tasks/nobody/cancel", ""))
        {
            await ProblemJson.AssertAsync(response, HttpStatusCode.NotFound, "nobody");
        }

        Assert.Equal("COMPLETED", Status(await scheduler.GetAsync("finished")));
        Assert.Equal(2, (await scheduler.EventsAsync("stopped")).Count);
    }
}
