using System.Net;
using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 9: GET /api/tasks/{id}/events lists every transition, oldest first.</summary>
public sealed class EventHistoryTests
{
    [Fact]
    public async Task A_task_that_failed_once_then_completed_has_its_full_history_oldest_first()
    {
        await using var scheduler = Start();
        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "bumpy",
            ["type"] = "etl",
            ["max_attempts"] = 2,
            ["retry_backoff_ms"] = 100,
            ["payload"] = new JsonObject { ["simulate"] = new JsonObject { ["fail_attempts"] = 1 } },
        });
        var done = await scheduler.WaitForStatusAsync("bumpy", "COMPLETED");
        var silo = (string)done["worker_id"]!;
        Assert.False(string.IsNullOrEmpty(silo), done.ToJsonString());

        var events = (await scheduler.EventsAsync("bumpy")).Select(e => e!.AsObject()).ToList();
        var history = string.Join("\n", events.Select(e => e.ToJsonString()));
        (string? From, string To, string? Silo, int? Attempt, string Reason)[] expected =
        [
            (null, "QUEUED", null, null, "submitted"),
            ("QUEUED", "RUNNING", silo, 1, "attempt 1 of 2 started"),
            ("RUNNING", "SCHEDULED", silo, 1, "simulated failure of attempt 1"),
            ("SCHEDULED", "QUEUED", null, null, "retry backoff over"),
            ("QUEUED", "RUNNING", silo, 2, "attempt 2 of 2 started"),
            ("RUNNING", "COMPLETED", silo, 2, "completed"),
        ];
        Assert.True(events.Count == expected.Length, $"expected {expected.Length} events:\n{history}");
        for (var i = 0; i < expected.Length; i++)
        {
            var e = events[i];
            var (from, to, siloId, attempt, reason) = expected[i];
            Assert.True((string?)e["from"] == from && (string)e["to"]! == to, $"event {i} is not {from ?? "null"} -> {to}:\n{history}");
            Assert.True((string?)e["silo_id"] == siloId, $"event {i} silo is not {siloId ?? "null"}:\n{history}");
            Assert.True((int?)e["attempt"] == attempt, $"event {i} attempt is not {attempt?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}:\n{history}");
            Assert.True(((string?)e["reason"] ?? "").Contains(reason, StringComparison.Ordinal), $"event {i} reason does not say '{reason}':\n{history}");
            if (i > 0)
            {
                Assert.True(Time(e["at"]) >= Time(events[i - 1]["at"]), $"event {i} is older than event {i - 1}:\n{history}");
            }
        }

        Assert.True(Time(events[0]["at"]) >= Time(done["created_at"]).AddMilliseconds(-1), history);
        Assert.True(Time(events[^1]["at"]) <= DateTimeOffset.UtcNow, history);
        Assert.Equal(Time(done["completed_at"]), Time(events[^1]["at"]));
    }

    [Fact]
    public async Task Events_of_an_unknown_task_are_404()
    {
        await using var scheduler = Start();
        using var response = await scheduler.Http.GetAsync(new Uri("/api/tasks/nobody/events", UriKind.Relative));
        await ProblemJson.AssertAsync(response, HttpStatusCode.NotFound, "nobody");
    }
}
