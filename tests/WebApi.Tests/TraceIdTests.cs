using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests;

/// <summary>Issue 10: a request's trace id is the one its log lines carry, and the answer says it:
/// from its W3C traceparent, or from its X-Correlation-Id (echoed back as sent), in the
/// X-Trace-Id header and in a problem's trace_id.</summary>
public sealed class TraceIdTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task A_traceparent_gives_the_answers_trace_id_in_its_header_and_its_problem()
    {
        using var api = app.Api();
        var trace = ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tasks/no-such-task");
        request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var response = await api.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(trace, response.Headers.GetValues("X-Trace-Id").Single());
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(trace, (string?)problem["trace_id"]);
    }

    [Theory]
    [InlineData("4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736")] // a trace id as it is
    [InlineData("6F9619FF-8B86-D011-B42D-00CF4FC964FF", "6f9619ff8b86d011b42d00cf4fc964ff")] // a GUID's digits
    public async Task An_x_correlation_id_becomes_the_trace_id_and_comes_back_as_sent(string correlationId, string expected)
    {
        using var api = app.Api();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tasks") { Content = JsonContent.Create(new { type = 7 }) };
        request.Headers.Add("X-Correlation-Id", correlationId);
        using var response = await api.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(correlationId, response.Headers.GetValues("X-Correlation-Id").Single());
        Assert.Equal(expected, response.Headers.GetValues("X-Trace-Id").Single());
        Assert.Equal(expected, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["trace_id"]);
    }

    [Fact]
    public async Task Any_other_correlation_id_always_maps_to_the_same_trace_id()
    {
        using var api = app.Api();
        var seen = new List<string>();
        foreach (var _ in Enumerable.Range(0, 2))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/stats");
            request.Headers.Add("X-Correlation-Id", "order-42");
            using var response = await api.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen.Add(response.Headers.GetValues("X-Trace-Id").Single());
        }

        Assert.Matches("^[0-9a-f]{32}$", seen[0]);
        Assert.Equal(seen[0], seen[1]);
    }
}
