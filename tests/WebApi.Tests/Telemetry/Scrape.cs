using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

public static class Scrape
{
    /// <summary>GET /metrics, insisting on 200 and Prometheus' text type, parsed strictly.</summary>
    public static async Task<PrometheusText> MetricsAsync(this Api api)
    {
        ArgumentNullException.ThrowIfNull(api);
        using var response = await api.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /metrics answered {(int)response.StatusCode}: {text}");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return PrometheusText.Parse(text);
    }
}
