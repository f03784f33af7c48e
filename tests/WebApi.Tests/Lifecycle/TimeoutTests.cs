using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 3: an attempt running past its timeout is cancelled through its token and
/// counts as failed; a handler that ignores the token does not keep its slot.</summary>
public sealed class TimeoutTests
{
    [Fact]
    public async Task Timeout_ms_cancels_a_slow_attempt_which_counts_as_failed()
    {
        await using var scheduler = Start();

        // Ten minutes of simulated work: only the timeout can end it within the test.
        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "slow",
            ["type"] = "crunch",
            ["duration_ms"] = 600_000,
            ["timeout_ms"] = 300,
            ["max_attempts"] = 2,
            ["retry_backoff_ms"] = 0,
        });

        var failed = await scheduler.WaitForStatusAsync("slow", "FAILED");
        Assert.Equal(2, (int)failed["attempts"]!);
        Assert.Equal(300, (long)failed["timeout_ms"]!);
        Assert.Contains("timed out", (string)failed["error"]!, StringComparison.OrdinalIgnoreCase);

        var events = await scheduler.EventsAsync("slow");
        var ends = events.Where(e => (string?)e!["from"] == "RUNNING").ToList();
        Assert.True(ends.Count == 2, events.ToJsonString());
        Assert.All(ends, e => Assert.Contains("timed out", (string)e!["reason"]!, StringComparison.OrdinalIgnoreCase));
        await Until.TrueAsync("the slot is free", scheduler.StatsAsync,
            s => (int)s["slots"]!["in_use"]! == 0, s => s.ToJsonString(), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_seed_004_timeout_in_seconds_works_the_same()
    {
        await using var scheduler = Start();

        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "slow-seconds",
            ["type"] = "crunch",
            ["duration_ms"] = 600_000,
            ["timeout"] = 1,
            ["max_attempts"] = 1,
        });

        var failed = await scheduler.WaitForStatusAsync("slow-seconds", "FAILED");
        Assert.Equal(1000, (long)failed["timeout_ms"]!);
        Assert.Equal(1, (int)failed["attempts"]!);
        Assert.Contains("timed out", (string)failed["error"]!, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(StubbornHandler.Type)]
    [InlineData(BlockingHandler.Type)]
    public async Task A_handler_that_ignores_its_token_does_not_keep_its_slot_past_the_timeout(string type)
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 1, services: probe.Register);
        try
        {
            await scheduler.SubmitAsync(new JsonObject
            {
                ["id"] = "deaf",
                ["type"] = type,
                ["timeout_ms"] = 300,
                ["max_attempts"] = 1,
            });

            var failed = await scheduler.WaitForStatusAsync("deaf", "FAILED");
            Assert.Contains("timed out", (string)failed["error"]!, StringComparison.OrdinalIgnoreCase);

            // The handler is still running, and still the slot is free.
            Assert.True(probe.Of("deaf").Started.IsCompleted, "the handler never started");
            var stats = await Until.TrueAsync("the slot is free", scheduler.StatsAsync,
                s => (int)s["slots"]!["in_use"]! == 0, s => s.ToJsonString(), TimeSpan.FromSeconds(10));
            Assert.False(probe.Of("deaf").Exited.IsCompleted, "the handler returned; the test proves nothing");

            // The one slot runs the next task while the deaf handler is still busy.
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "next", ["type"] = "crunch" });
            await scheduler.WaitForStatusAsync("next", "COMPLETED");
            Assert.False(probe.Of("deaf").Exited.IsCompleted, "the handler returned; the test proves nothing");
            Assert.Equal("FAILED", Status(await scheduler.GetAsync("deaf")));
            Assert.Equal(1, (int)stats["slots"]!["limit"]!);
        }
        finally
        {
            probe.ReleaseAll();
        }
    }
}
