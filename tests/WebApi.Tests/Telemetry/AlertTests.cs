using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>Issue 10: an alert fires and clears, and /health/ready is Degraded while it fires. The
/// rule driven is slots_saturated (every slot in use, the queue growing), which the test controls
/// exactly: one slot, a task that holds it, and a submission per probe.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class AlertTests(AlertTests.App app) : IClassFixture<AlertTests.App>
{
    public sealed class App : SchedulerApp
    {
        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Scheduler:MaxConcurrentTasks"] = "1",
            ["Alerts:EvaluationInterval"] = "00:00:00.200",
            ["Alerts:SlotsSaturatedFor"] = "00:00:01",
        };
    }

    [Fact]
    public async Task Slots_saturated_fires_while_the_queue_grows_behind_a_held_slot_and_clears_when_it_drains()
    {
        using var api = app.Api();
        Assert.Empty(await AlertsAsync(api));
        Assert.Equal("Healthy", await ReadyAsync(api));

        await api.SubmitAsync(new { id = "hold-the-slot", type = "alerts", duration_ms = 600_000 });
        await api.WaitForStatusAsync(["hold-the-slot"], "RUNNING");

        var queued = 0;
        var firing = await Poll.UntilAsync("slots_saturated fires",
            async () =>
            {
                await api.SubmitAsync(new { id = $"behind-{queued++}", type = "alerts" });
                return await AlertsAsync(api);
            },
            alerts => alerts.Any(a => (string)a!["name"]! == "slots_saturated"),
            alerts => alerts.ToJsonString());
        var alert = firing.Single(a => (string)a!["name"]! == "slots_saturated")!.AsObject();
        Assert.Equal(["message", "name", "severity", "since"], alert.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("warning", (string)alert["severity"]!);
        Assert.True(DateTimeOffset.TryParse((string)alert["since"]!, CultureInfo.InvariantCulture, out _), alert.ToJsonString());
        Assert.Contains("slot", (string)alert["message"]!, StringComparison.Ordinal);
        Assert.Equal("Degraded", await ReadyAsync(api));

        // The slot is freed and the queue drains: the rule no longer holds.
        using (var cancel = await api.PostJsonAsync("/api/tasks/hold-the-slot/cancel", "{}"))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        await Poll.UntilAsync("slots_saturated clears and ready is Healthy again",
            async () => (Alerts: await AlertsAsync(api), Ready: await ReadyAsync(api)),
            state => state.Alerts.Count == 0 && state.Ready == "Healthy",
            state => $"{state.Alerts.ToJsonString()}, ready: {state.Ready}");
    }

    private static async Task<JsonArray> AlertsAsync(Api api)
    {
        using var response = await api.Http.GetAsync(new Uri("/api/alerts", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api/alerts answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsArray();
    }

    private static async Task<string> ReadyAsync(Api api)
    {
        using var response = await api.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        return await response.Content.ReadAsStringAsync();
    }
}
