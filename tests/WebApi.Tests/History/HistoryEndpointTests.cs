using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.History;

/// <summary>GET /api/stats/history and GET /api/stats/run-times (issue 10, point 7) count what really
/// ran: each test class has a fresh database, and this one runs its tasks in one test so the totals
/// are exact.</summary>
public sealed class HistoryEndpointTests(HistoryApp app) : IClassFixture<HistoryApp>
{
    [Fact]
    public async Task History_and_run_times_count_the_tasks_that_completed_and_failed()
    {
        using var api = app.Api();
        // Two complete (one only after a failed attempt, which is not a failure of the task), two fail.
        await api.SubmitAsync(new { id = "h-fast", type = "h", duration_ms = 120 });
        await api.SubmitAsync(new { id = "h-slow", type = "h", duration_ms = 600 });
        await api.SubmitAsync(new { id = "h-retried", type = "h", duration_ms = 120, max_attempts = 2, retry_backoff_ms = 10, payload = new { simulate = new { fail_attempts = 1 } } });
        await api.SubmitAsync(new { id = "h-fail-1", type = "h", max_attempts = 1, payload = new { simulate = new { fail_attempts = 1 } } });
        await api.SubmitAsync(new { id = "h-fail-2", type = "h", max_attempts = 1, payload = new { simulate = new { fail_attempts = 1 } } });
        await api.WaitForStatusAsync(["h-fast", "h-slow", "h-retried"], "COMPLETED");
        await api.WaitForStatusAsync(["h-fail-1", "h-fail-2"], "FAILED");

        // The counters are written in the commit that ends each task: no waiting for a flush.
        var history = await GetAsync(api, "/api/stats/history?minutes=5&step=1");
        Assert.True((long)history["completed"]! == 3 && (long)history["failed"]! == 2, history.ToJsonString());
        var points = history["throughput"]!.AsArray();
        Assert.Equal(300, points.Count);
        Assert.Equal(3, points.Sum(p => (long)p!["completed"]!));
        Assert.Equal(2, points.Sum(p => (long)p!["failed"]!));
        var times = points.Select(p => DateTimeOffset.Parse((string)p!["at"]!, CultureInfo.InvariantCulture)).ToList();
        Assert.True(times.Zip(times.Skip(1)).All(t => t.Second - t.First == TimeSpan.FromSeconds(1)), "intervals are not one step apart, oldest first");
        Assert.True(times[^1] <= DateTimeOffset.UtcNow && times[^1] > DateTimeOffset.UtcNow.AddSeconds(-5), $"the last interval {times[^1]:O} is not the current one");

        // A wider step folds the same tasks into fewer intervals.
        var coarse = await GetAsync(api, "/api/stats/history?step=60");
        Assert.Equal(15, coarse["throughput"]!.AsArray().Count);
        Assert.Equal(3, (long)coarse["completed"]!);
        Assert.Equal(60, (int)coarse["step_seconds"]!);

        // Run times of the three completions: 120 ms twice (plus the simulator's overhead) and 600 ms.
        var runTimes = await GetAsync(api, "/api/stats/run-times");
        Assert.True((int)runTimes["sample"]! == 3, runTimes.ToJsonString());
        var buckets = runTimes["buckets"]!.AsArray().Select(b => ((long)b!["from_ms"]!, (long?)b["to_ms"], (long)b["count"]!)).ToList();
        Assert.Equal(3, buckets.Sum(b => b.Item3));

        // Bucketed by what they took: at least their duration_ms, and on a loaded machine (CI) a
        // 120 ms task once took over 200 ms, so only the lower bounds are exact.
        Assert.True(buckets.Where(b => b.Item1 >= 100 && b.Item1 < 500).Sum(b => b.Item3) == 2, runTimes.ToJsonString());
        Assert.True(buckets.Where(b => b.Item1 >= 500).Sum(b => b.Item3) == 1, runTimes.ToJsonString());
        // The simulator waits on the runtime's monotonic timer, while started_at and completed_at are
        // wall-clock milliseconds: under CI's load the 600 ms task once measured 597 ms.
        Assert.True((double)runTimes["max_ms"]! >= 590, runTimes.ToJsonString());
    }

    [Fact]
    public async Task Queue_depth_samples_follow_the_scheduled_tasks_up_and_down()
    {
        using var api = app.Api();
        var later = DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture);
        var ids = Enumerable.Range(0, 4).Select(i => $"depth-{i}").ToList();
        foreach (var id in ids)
        {
            await api.SubmitAsync(new { id, type = "d", run_at = later });
        }

        // The sampler writes every second (HistoryApp): the newest sample sees the four.
        var up = await Poll.UntilAsync("a queue-depth sample counts 4 scheduled tasks",
            () => GetAsync(api, "/api/stats/history?minutes=1"),
            h => Last(h) is { } last && (long)last["scheduled"]! == 4,
            h => h["queue_depth"]!.ToJsonString());
        Assert.Equal(1, (int)up["sample_interval_seconds"]!);
        Assert.Equal(0, (long)Last(up)!["running"]!);

        foreach (var id in ids)
        {
            using var cancel = await api.PostJsonAsync($"/api/tasks/{id}/cancel", "{}");
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        var down = await Poll.UntilAsync("a later sample counts none",
            () => GetAsync(api, "/api/stats/history?minutes=1"),
            h => Last(h) is { } last && (long)last["scheduled"]! == 0,
            h => h["queue_depth"]!.ToJsonString());
        var samples = down["queue_depth"]!.AsArray();
        Assert.Contains(samples, s => (long)s!["scheduled"]! == 4);
        var seconds = samples.Select(s => DateTimeOffset.Parse((string)s!["at"]!, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(seconds.Order().ToList(), seconds);
    }

    [Theory]
    [InlineData("/api/stats/history?minutes=0", "minutes")]
    [InlineData("/api/stats/history?minutes=61", "minutes")]
    [InlineData("/api/stats/history?minutes=ten", "minutes")]
    [InlineData("/api/stats/history?minutes=-5", "minutes")]
    [InlineData("/api/stats/history?step=0", "step")]
    [InlineData("/api/stats/history?step=301", "step")]
    [InlineData("/api/stats/history?step=1.5", "step")]
    public async Task A_bad_history_parameter_is_a_400_naming_it(string path, string field)
    {
        using var api = app.Api();
        using var response = await api.Http.GetAsync(new Uri(path, UriKind.Relative));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, field);
    }

    private static JsonObject? Last(JsonObject history) => history["queue_depth"]!.AsArray().LastOrDefault()?.AsObject();

    internal static async Task<JsonObject> GetAsync(Api api, string path)
    {
        using var response = await api.Http.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }
}
