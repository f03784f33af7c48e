using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>Issue 10: Orleans' dashboard at /orleans shows the silos and the grain activations.</summary>
public sealed class OrleansDashboardTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task Orleans_dashboard_serves_its_page_and_the_silo_with_its_grains()
    {
        using var api = app.Api();
        using (var page = await api.Http.GetAsync(new Uri("/orleans/", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        }

        await api.SubmitAsync(new { id = "orleans-dashboard", type = "x" });
        await api.WaitForStatusAsync(["orleans-dashboard"], "COMPLETED");
        var counters = await Poll.UntilAsync("the dashboard lists the silo and the scheduler's grains",
            async () =>
            {
                using var response = await api.Http.GetAsync(new Uri("/orleans/DashboardCounters", UriKind.Relative));
                return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            },
            c => c["hosts"]!.AsArray().Count == 1
                && c["simpleGrainStats"]!.AsArray().Any(g => ((string)g!["grainType"]!).EndsWith(".ConcurrencyGrain", StringComparison.Ordinal)),
            c => c.ToJsonString());
        Assert.Equal("Active", (string)counters["hosts"]![0]!["status"]!);
    }
}
