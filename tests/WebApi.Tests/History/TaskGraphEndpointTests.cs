using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.History;

/// <summary>GET /api/tasks/{id}/graph (issue 10, point 7): the task's dependencies and dependents a
/// few levels each way, with their statuses now and the critical path through the task.</summary>
public sealed class TaskGraphEndpointTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task The_graph_has_the_neighbourhood_with_statuses_and_the_heaviest_chain_through_the_task()
    {
        using var api = app.Api();
        // g-up-slow (250 ms) and g-up-quick (0 ms) -> g-mid -> g-down-slow (300 ms), g-down-quick, and
        // g-down-waits, which also waits for g-later (an hour ahead): it stays WAITING. g-up-far is two
        // levels up; g-other is unrelated.
        using (var batch = await api.PostJsonAsync("/api/tasks/batch", new object[]
        {
            new { id = "g-up-far", type = "g" },
            new { id = "g-up-slow", type = "g", duration_ms = 250, dependencies = new[] { "g-up-far" } },
            new { id = "g-up-quick", type = "g" },
            new { id = "g-mid", type = "g", duration_ms = 10, dependencies = new[] { "g-up-slow", "g-up-quick" } },
            new { id = "g-down-slow", type = "g", duration_ms = 300, dependencies = new[] { "g-mid" } },
            new { id = "g-down-quick", type = "g", dependencies = new[] { "g-mid" } },
            new { id = "g-later", type = "g", run_at = DateTimeOffset.UtcNow.AddHours(1).ToString("O", System.Globalization.CultureInfo.InvariantCulture) },
            new { id = "g-down-waits", type = "g", duration_ms = 5, dependencies = new[] { "g-mid", "g-later" } },
            new { id = "g-other", type = "g" },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, batch.StatusCode);
        }

        await api.WaitForStatusAsync(["g-up-far", "g-up-slow", "g-up-quick", "g-mid", "g-down-slow", "g-down-quick"], "COMPLETED");

        var graph = await HistoryEndpointTests.GetAsync(api, "/api/tasks/g-mid/graph");
        var nodes = graph["nodes"]!.AsArray().ToDictionary(n => (string)n!["id"]!, n => n!.AsObject());
        Assert.Equal(
            ["g-down-quick", "g-down-slow", "g-down-waits", "g-mid", "g-up-far", "g-up-quick", "g-up-slow"],
            nodes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(3, (int)graph["depth"]!);
        Assert.False((bool)graph["truncated"]!);
        Assert.Equal(new Dictionary<string, int> { ["g-up-far"] = -2, ["g-up-slow"] = -1, ["g-up-quick"] = -1, ["g-mid"] = 0, ["g-down-slow"] = 1, ["g-down-quick"] = 1, ["g-down-waits"] = 1 },
            nodes.ToDictionary(n => n.Key, n => (int)n.Value["level"]!));
        Assert.Equal("WAITING", (string)nodes["g-down-waits"]["status"]!);
        Assert.Null((long?)nodes["g-down-waits"]["run_ms"]);
        Assert.Equal(5, (long)nodes["g-down-waits"]["weight_ms"]!);
        Assert.All(nodes.Where(n => n.Key != "g-down-waits"), n => Assert.Equal("COMPLETED", (string)n.Value["status"]!));
        Assert.True((long)nodes["g-up-slow"]["run_ms"]! >= 250, nodes["g-up-slow"].ToJsonString());

        var edges = graph["edges"]!.AsArray().Select(e => ((string)e!["from"]!, (string)e["to"]!)).ToHashSet();
        Assert.Equal(
            new HashSet<(string, string)> { ("g-up-far", "g-up-slow"), ("g-up-slow", "g-mid"), ("g-up-quick", "g-mid"), ("g-mid", "g-down-slow"), ("g-mid", "g-down-quick"), ("g-mid", "g-down-waits") },
            edges);

        // The heaviest chain through g-mid: g-up-far -> g-up-slow (250 ms) -> g-mid -> g-down-slow (300 ms).
        Assert.Equal(["g-up-far", "g-up-slow", "g-mid", "g-down-slow"], graph["critical_path"]!.AsArray().Select(i => (string)i!));
        Assert.Equal(
            nodes.Where(n => (bool)n.Value["critical"]!).Select(n => n.Key).Order(StringComparer.Ordinal),
            ["g-down-slow", "g-mid", "g-up-far", "g-up-slow"]);
        Assert.Equal(
            new HashSet<(string, string)> { ("g-up-far", "g-up-slow"), ("g-up-slow", "g-mid"), ("g-mid", "g-down-slow") },
            graph["edges"]!.AsArray().Where(e => (bool)e!["critical"]!).Select(e => ((string)e!["from"]!, (string)e["to"]!)).ToHashSet());
        Assert.Equal(
            new[] { "g-up-far", "g-up-slow", "g-mid", "g-down-slow" }.Sum(id => (long)nodes[id]["weight_ms"]!),
            (long)graph["critical_path_ms"]!);
    }

    [Fact]
    public async Task Depth_and_max_nodes_bound_the_walk()
    {
        using var api = app.Api();
        using (var batch = await api.PostJsonAsync("/api/tasks/batch", new object[]
        {
            new { id = "b-1", type = "g" },
            new { id = "b-2", type = "g", dependencies = new[] { "b-1" } },
            new { id = "b-3", type = "g", dependencies = new[] { "b-2" } },
            new { id = "b-4", type = "g", dependencies = new[] { "b-3" } },
            new { id = "b-5", type = "g", dependencies = new[] { "b-4" } },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, batch.StatusCode);
        }

        static IEnumerable<string> Ids(JsonObject graph) => graph["nodes"]!.AsArray().Select(n => (string)n!["id"]!).Order(StringComparer.Ordinal);

        var one = await HistoryEndpointTests.GetAsync(api, "/tasks/b-3/graph?depth=1");
        Assert.Equal(["b-2", "b-3", "b-4"], Ids(one));
        Assert.False((bool)one["truncated"]!);
        var all = await HistoryEndpointTests.GetAsync(api, "/api/tasks/b-1/graph?depth=4");
        Assert.Equal(["b-1", "b-2", "b-3", "b-4", "b-5"], Ids(all));
        Assert.Equal(["b-1", "b-2", "b-3", "b-4", "b-5"], all["critical_path"]!.AsArray().Select(i => (string)i!));
        var capped = await HistoryEndpointTests.GetAsync(api, "/api/tasks/b-1/graph?depth=4&max_nodes=3");
        Assert.Equal(["b-1", "b-2", "b-3"], Ids(capped));
        Assert.True((bool)capped["truncated"]!, capped.ToJsonString());
    }

    [Theory]
    [InlineData("/api/tasks/x/graph?depth=0", "depth")]
    [InlineData("/api/tasks/x/graph?depth=11", "depth")]
    [InlineData("/api/tasks/x/graph?depth=deep", "depth")]
    [InlineData("/api/tasks/x/graph?max_nodes=0", "max_nodes")]
    [InlineData("/api/tasks/x/graph?max_nodes=501", "max_nodes")]
    [InlineData("/tasks/x/graph?max_nodes=", "max_nodes")]
    public async Task A_bad_graph_parameter_is_a_400_naming_it(string path, string field)
    {
        using var api = app.Api();
        using var response = await api.Http.GetAsync(new Uri(path, UriKind.Relative));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, field);
    }

    [Theory]
    [InlineData("/api/tasks/nobody/graph", "nobody")]
    [InlineData("/api/tasks/no%20body/graph", "no body")]
    public async Task The_graph_of_an_unknown_task_is_a_404(string path, string id)
    {
        using var api = app.Api();
        using var response = await api.Http.GetAsync(new Uri(path, UriKind.Relative));
        await Problem.AssertAsync(response, HttpStatusCode.NotFound, id);
    }
}
