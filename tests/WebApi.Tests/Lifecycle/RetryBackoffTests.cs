using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 2: a failed attempt with attempts left waits out an exponential backoff
/// with equal jitter, SCHEDULED; each attempt's error is kept.</summary>
public sealed class RetryBackoffTests
{
    [Fact]
    public async Task Failed_attempts_back_off_SCHEDULED_and_the_task_completes_on_its_third_attempt()
    {
        await using var scheduler = Start();
        const int backoffMs = 400;

        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "flaky",
            ["type"] = "import",
            ["max_attempts"] = 3,
            ["retry_backoff_ms"] = backoffMs,
            ["retry_backoff_max_ms"] = 60_000,
            ["payload"] = new JsonObject { ["simulate"] = new JsonObject { ["fail_attempts"] = 2, ["result"] = "imported" } },
        });

        // Between attempts it is SCHEDULED, blocked by the backoff (at least 200 ms, so a 25 ms poll sees it).
        var waiting = await scheduler.WaitAsync("flaky",
            t => Status(t) == "SCHEDULED" || Status(t) is "COMPLETED" or "FAILED",
            "is SCHEDULED between attempts");
        Assert.True(Status(waiting) == "SCHEDULED", $"never seen SCHEDULED between attempts: {await scheduler.DescribeAsync("flaky")}");
        var blockedBy = waiting["blocked_by"]!.AsObject();
        Assert.Equal("backoff", (string)blockedBy["reason"]!);
        Assert.NotNull(blockedBy["until"]);
        Assert.Contains("simulated failure", (string?)waiting["error"] ?? "", StringComparison.Ordinal);

        var done = await scheduler.WaitForStatusAsync("flaky", "COMPLETED");
        Assert.Equal(3, (int)done["attempts"]!);
        Assert.Equal("imported", (string?)done["result"]);

        var events = (await scheduler.EventsAsync("flaky")).Select(e => e!.AsObject()).ToList();
        var history = events.Select(e => e.ToJsonString()).Aggregate((a, b) => a + "\n" + b);
        var failures = events.Where(e => (string?)e["from"] == "RUNNING" && (string)e["to"]! == "SCHEDULED").ToList();
        var starts = events.Where(e => (string)e["to"]! == "RUNNING").ToList();
        Assert.True(failures.Count == 2, $"expected two failed attempts: {history}");
        Assert.True(starts.Count == 3, $"expected three starts: {history}");
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var failure = failures[attempt - 1];
            Assert.Equal(attempt, (int)failure["attempt"]!);
            Assert.Contains($"simulated failure of attempt {attempt}", (string)failure["reason"]!, StringComparison.Ordinal);

            // Equal jitter: the delay is drawn from half to all of base * 2^(attempt-1).
            var next = starts[attempt];
            Assert.Equal(attempt + 1, (int)next["attempt"]!);
            var gap = Time(next["at"]) - Time(failure["at"]);
            var floor = backoffMs * (1 << (attempt - 1)) / 2;
            Assert.True(gap >= TimeSpan.FromMilliseconds(floor),
                $"attempt {attempt + 1} started {gap.TotalMilliseconds} ms after attempt {attempt} failed, less than {floor} ms:\n{history}");
        }

        Assert.Equal("COMPLETED", (string)events[^1]["to"]!);
        Assert.Equal(3, (int)events[^1]["attempt"]!);
    }

    [Fact]
    public async Task Exhausted_attempts_end_FAILED_with_the_last_error()
    {
        await using var scheduler = Start();

        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "doomed",
            ["type"] = "import",
            ["max_attempts"] = 2,
            ["retry_backoff_ms"] = 50,
            ["payload"] = new JsonObject { ["simulate"] = new JsonObject { ["fail_attempts"] = 5 } },
        });

        var failed = await scheduler.WaitForStatusAsync("doomed", "FAILED");
        Assert.Equal(2, (int)failed["attempts"]!);
        Assert.Contains("simulated failure of attempt 2", (string)failed["error"]!, StringComparison.Ordinal);
        Assert.Null(failed["blocked_by"]);
        Assert.NotNull(failed["completed_at"]);

        var events = await scheduler.EventsAsync("doomed");
        var last = events[^1]!;
        Assert.Equal(("RUNNING", "FAILED", 2), ((string)last["from"]!, (string)last["to"]!, (int)last["attempt"]!));
        Assert.Contains("simulated failure of attempt 2", (string)last["reason"]!, StringComparison.Ordinal);
        Assert.Contains(events, e => (string)e!["to"]! == "SCHEDULED" && ((string)e["reason"]!).Contains("simulated failure of attempt 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_scheduler_default_backoff_applies_to_tasks_that_do_not_set_one()
    {
        // Scheduler:RetryBackoff sets the base for tasks without retry_backoff_ms.
        await using var scheduler = Start(settings: new Dictionary<string, string>
        {
            ["Scheduler:RetryBackoff"] = "00:00:00.600",
            ["Scheduler:RetryBackoffMax"] = "00:00:00.600",
        });

        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "defaulted",
            ["type"] = "import",
            ["max_attempts"] = 2,
            ["payload"] = new JsonObject { ["simulate"] = new JsonObject { ["fail_attempts"] = 1 } },
        });

        await scheduler.WaitForStatusAsync("defaulted", "COMPLETED");
        var events = await scheduler.EventsAsync("defaulted");
        var failure = events.Single(e => (string)e!["to"]! == "SCHEDULED")!;
        var retry = events.Last(e => (string)e!["to"]! == "RUNNING")!;
        var gap = Time(retry["at"]) - Time(failure["at"]);
        Assert.True(gap >= TimeSpan.FromMilliseconds(300), $"retried {gap.TotalMilliseconds} ms after the failure, less than half of 600 ms: {events.ToJsonString()}");
    }
}
