using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>Issue 10: /metrics is Prometheus text, and its counters move when tasks run.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricsEndpointTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task Metrics_parse_as_prometheus_text_and_carry_ours_and_orleans_meters()
    {
        using var api = app.Api();
        var metrics = await Poll.UntilAsync("the cluster gauges are reported",
            api.MetricsAsync, m => m.Value("scheduler_slots_limit") is not null, m => string.Join(", ", m.Types.Keys));

        Assert.Equal(3, metrics.Value("scheduler_slots_limit"));
        Assert.Equal(1, metrics.Value("scheduler_silos_alive"));
        Assert.NotNull(metrics.Value("scheduler_tasks", ("status", "QUEUED")));
        Assert.Contains(metrics.Types.Keys, name => name.StartsWith("orleans_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Counters_and_histograms_of_a_type_move_when_its_tasks_run()
    {
        using var api = app.Api();
        const string type = "metrics-moves";
        var before = await api.MetricsAsync();
        Assert.Null(before.Value("scheduler_tasks_completed_total", ("type", type)));

        await api.SubmitAsync(new { id = "metrics-ok", type, duration_ms = 10 });
        await api.SubmitAsync(new { id = "metrics-bad", type, max_attempts = 1, payload = new { simulate = new { fail_attempts = 1 } } });
        await api.WaitForStatusAsync(["metrics-ok"], "COMPLETED");
        await api.WaitForStatusAsync(["metrics-bad"], "FAILED");

        var after = await Poll.UntilAsync("the counters of the type moved",
            api.MetricsAsync,
            // The gauges come from stats cached for up to a second.
            m => m.Value("scheduler_tasks_completed_total", ("type", type)) == 1 && m.Value("scheduler_tasks_failed_total", ("type", type)) == 1
                && m.Value("scheduler_tasks", ("status", "FAILED")) >= 1,
            m => string.Join(", ", m.Samples.Where(s => s.Labels.GetValueOrDefault("type") == type).Select(s => $"{s.Name}={s.Value}")));
        Assert.Equal(2, after.Value("scheduler_tasks_submitted_total", ("type", type)));
        Assert.Equal(2, after.Value("scheduler_tasks_started_total", ("type", type)));
        Assert.Equal(2, after.Value("scheduler_task_queue_wait_seconds_count", ("type", type)));
        Assert.Equal(2, after.Value("scheduler_task_run_time_seconds_count", ("type", type)));
        Assert.True(after.Value("scheduler_tasks", ("status", "COMPLETED")) >= 1);
        Assert.Null(after.Value("scheduler_tasks_retried_total", ("type", type)));
    }
}

/// <summary>Telemetry:Metrics:MaxTypes bounds the series a client's task types can make.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricsTypeCapTests(MetricsTypeCapTests.App app) : IClassFixture<MetricsTypeCapTests.App>
{
    public sealed class App : SchedulerApp
    {
        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Telemetry:Metrics:MaxTypes"] = "5",
        };
    }

    [Fact]
    public async Task Task_types_past_the_cap_are_counted_as_other()
    {
        using var api = app.Api();
        var ids = Enumerable.Range(0, 8).Select(i => $"many-types-{i}").ToList();
        using (var response = await api.PostJsonAsync("/api/tasks/batch", ids.Select(id => new { id, type = "type-" + id }).ToList()))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        var metrics = await api.MetricsAsync();
        var types = metrics.Samples.Where(s => s.Name == "scheduler_tasks_submitted_total").Select(s => s.Labels["type"]).ToList();
        var named = types.Count(t => t.StartsWith("type-many-types-", StringComparison.Ordinal));
        Assert.True(named == 5, $"{named} of the 8 types have series of their own, not the cap of 5: {string.Join(", ", types)}");
        Assert.Equal(3, metrics.Value("scheduler_tasks_submitted_total", ("type", "other")));
    }
}

/// <summary>Telemetry:Metrics:Enabled=false: no meter provider, so no /metrics.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricsDisabledTests(MetricsDisabledTests.App app) : IClassFixture<MetricsDisabledTests.App>
{
    public sealed class App : SchedulerApp
    {
        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Telemetry:Metrics:Enabled"] = "false",
        };
    }

    [Fact]
    public async Task Metrics_off_serves_no_metrics_and_tasks_still_run()
    {
        using var api = app.Api();
        await api.SubmitAsync(new { id = "no-metrics", type = "x" });
        await api.WaitForStatusAsync(["no-metrics"], "COMPLETED");
        using var response = await api.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
