using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>Issue 10: a task's trace follows it. The W3C traceparent of the submitting request is
/// stored with the task, and each attempt's span (ActivitySource "OrleansScheduler", task id, type,
/// attempt, outcome) is a child of that trace, also for a dependent released later by another
/// task's completion and run from its stored row.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class TraceContextTests(SchedulerApp app) : IClassFixture<SchedulerApp>, IDisposable
{
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener = new()
    {
        ShouldListenTo = source => source.Name == "OrleansScheduler",
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    [Fact]
    public async Task Attempt_spans_and_the_release_of_dependents_join_the_submitting_requests_trace()
    {
        _listener.ActivityStopped = _spans.Enqueue;
        ActivitySource.AddActivityListener(_listener);
        using var api = app.Api();
        var upstreamTrace = ActivityTraceId.CreateRandom();
        var downstreamTrace = ActivityTraceId.CreateRandom();
        await SubmitWithTraceAsync(api, upstreamTrace, """{"id": "traced-up", "type": "traced", "duration_ms": 200}""");
        await SubmitWithTraceAsync(api, downstreamTrace, """{"id": "traced-down", "type": "traced", "dependencies": ["traced-up"], "max_attempts": 2, "payload": {"simulate": {"fail_attempts": 1}}, "retry_backoff_ms": 10}""");
        await api.WaitForStatusAsync(["traced-up", "traced-down"], "COMPLETED");

        var attempts = await Poll.UntilAsync("the three attempts' spans ended",
            () => Task.FromResult(_spans.Where(s => s.OperationName == "task.attempt").ToList()),
            spans => spans.Count >= 3,
            spans => string.Join(", ", spans.Select(Describe)));
        var up = Assert.Single(attempts, s => (string?)s.GetTagItem("task.id") == "traced-up");
        Assert.Equal(upstreamTrace, up.TraceId);
        Assert.Equal("traced", up.GetTagItem("task.type"));
        Assert.Equal(1, up.GetTagItem("task.attempt"));
        Assert.Equal("completed", up.GetTagItem("task.outcome"));

        var down = attempts.Where(s => (string?)s.GetTagItem("task.id") == "traced-down").OrderBy(s => (int)s.GetTagItem("task.attempt")!).ToList();
        Assert.True(down.Count == 2, string.Join(", ", attempts.Select(Describe)));
        Assert.All(down, s => Assert.Equal(downstreamTrace, s.TraceId));
        Assert.Equal(["failed", "completed"], down.Select(s => (string?)s.GetTagItem("task.outcome")));

        var release = Assert.Single(_spans, s => s.OperationName == "task.release_dependents" && (string?)s.GetTagItem("task.id") == "traced-up");
        Assert.Equal(upstreamTrace, release.TraceId);
    }

    public void Dispose() => _listener.Dispose();

    private static async Task SubmitWithTraceAsync(Api api, ActivityTraceId trace, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tasks") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{trace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var response = await api.Http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string Describe(Activity span) =>
        $"{span.OperationName} {span.GetTagItem("task.id")} #{span.GetTagItem("task.attempt")} {span.GetTagItem("task.outcome")} trace {span.TraceId}";
}
