using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 1: run_at holds a task SCHEDULED until it falls due, through a durable
/// reminder that also fires after a restart.</summary>
public sealed class RunAtTests
{
    [Fact]
    public async Task A_future_run_at_is_SCHEDULED_until_due_then_QUEUED_then_COMPLETED()
    {
        await using var scheduler = Start();
        // Far enough ahead that the submission answers before it even when CI's load stalls the
        // server for a second or two (1.5 s was not: it answered QUEUED once).
        var runAt = NowMs().AddMilliseconds(4000);

        var submitted = await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "later",
            ["type"] = "report",
            ["run_at"] = Rfc3339(runAt),
        });
        Assert.Equal("SCHEDULED", (string)submitted["status"]!);

        var task = await scheduler.GetAsync("later");
        var seen = task.ToJsonString();
        Assert.True(DateTimeOffset.UtcNow < runAt, $"the test was too slow to see the task before run_at: {seen}");
        Assert.Equal("SCHEDULED", Status(task));
        Assert.Equal(runAt, Time(task["run_at"]));
        var blockedBy = task["blocked_by"]?.AsObject();
        Assert.True(blockedBy is not null, $"a SCHEDULED task has no blocked_by: {seen}");
        Assert.Equal("run_at", (string)blockedBy!["reason"]!);
        Assert.Equal(runAt, Time(blockedBy["until"]));
        Assert.Contains(Rfc3339(runAt), (string)blockedBy["message"]!, StringComparison.Ordinal);

        var done = await scheduler.WaitForStatusAsync("later", "COMPLETED");
        var events = await scheduler.EventsAsync("later");
        var history = $"{done.ToJsonString()}\n{events.ToJsonString()}";
        Assert.Equal(
            ["null->SCHEDULED", "SCHEDULED->QUEUED", "QUEUED->RUNNING", "RUNNING->COMPLETED"],
            events.Select(e => $"{(string?)e!["from"] ?? "null"}->{(string)e["to"]!}"));
        var released = events.Single(e => (string)e!["to"]! == "QUEUED")!;
        Assert.True(Time(released["at"]) >= runAt, $"QUEUED before run_at {Rfc3339(runAt)}: {history}");
        var firstRun = events.First(e => (string)e!["to"]! == "RUNNING")!;
        Assert.True(Time(firstRun["at"]) >= runAt, $"RUNNING before run_at {Rfc3339(runAt)}: {history}");
        Assert.True(Time(done["started_at"]) >= runAt, $"started_at before run_at: {history}");
        Assert.Null(done["blocked_by"]);
    }

    [Fact]
    public async Task A_past_run_at_runs_at_once()
    {
        await using var scheduler = Start();
        var runAt = NowMs().AddMinutes(-5);

        var submitted = await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "overdue",
            ["type"] = "report",
            ["run_at"] = Rfc3339(runAt),
        });
        Assert.Equal("QUEUED", (string)submitted["status"]!);

        var done = await scheduler.WaitForStatusAsync("overdue", "COMPLETED");
        Assert.Equal(runAt, Time(done["run_at"]));
        var events = await scheduler.EventsAsync("overdue");
        Assert.DoesNotContain(events, e => (string)e!["to"]! == "SCHEDULED");
    }

    [Fact]
    public async Task A_reminder_that_fell_due_while_the_scheduler_was_down_fires_after_the_restart()
    {
        var folder = NewFolder();
        try
        {
            var database = Path.Combine(folder, "scheduler.db");
            DateTimeOffset runAt;
            await using (var first = Start(databasePath: database))
            {
                // Started first (on a loaded machine a start took longer than the 2.5 s below, and
                // the task was due before it was submitted); then due in 2.5 s: the first scheduler
                // is gone before then (checked below).
                await first.StatsAsync();
                runAt = NowMs().AddMilliseconds(2500);
                var submitted = await first.SubmitAsync(new JsonObject
                {
                    ["id"] = "reminder",
                    ["type"] = "report",
                    ["run_at"] = Rfc3339(runAt),
                });
                Assert.Equal("SCHEDULED", (string)submitted["status"]!);
                Assert.Equal("SCHEDULED", Status(await first.GetAsync("reminder")));
            }

            var stoppedAt = DateTimeOffset.UtcNow;
            Assert.True(stoppedAt < runAt,
                $"the first scheduler stopped at {Rfc3339(stoppedAt)}, after run_at {Rfc3339(runAt)}; the test proves nothing");

            await Until.PassedAsync(runAt.AddMilliseconds(200));

            await using var second = Start(databasePath: database);
            var done = await second.WaitForStatusAsync("reminder", "COMPLETED");
            var events = await second.EventsAsync("reminder");
            var history = $"{done.ToJsonString()}\n{events.ToJsonString()}";
            var released = events.Single(e => (string)e!["to"]! == "QUEUED")!;
            Assert.Equal("SCHEDULED", (string?)released["from"]);
            Assert.True(Time(released["at"]) >= runAt, history);
            Assert.True(Time(released["at"]) > stoppedAt, $"released by the first scheduler, before it stopped: {history}");
            Assert.Equal(1, (int)done["attempts"]!);
        }
        finally
        {
            DeleteFolder(folder);
        }
    }
}
