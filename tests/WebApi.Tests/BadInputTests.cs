using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests;

/// <summary>Every rejected request gets problem+json naming the field and the reason, and writes
/// nothing: each test checks the task count before and after and that the rejected ids do not exist.
/// Tests in one class run one at a time, so the count is stable.</summary>
public sealed class BadInputTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task A_duplicate_id_is_409_and_the_first_task_is_kept()
    {
        using var api = app.Api();
        await api.SubmitAsync(new { id = "dup-1", type = "first", duration_ms = 0 });
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks", new { id = "dup-1", type = "second", duration_ms = 0 });

        var problem = await Problem.AssertAsync(response, HttpStatusCode.Conflict, "dup-1");
        Assert.Equal("dup-1", (string)problem["id"]!);
        Assert.Equal("first", (string)(await api.GetTaskAsync("dup-1"))["type"]!);
        Assert.Equal(before, await api.TotalAsync());
    }

    [Fact]
    public async Task A_missing_dependency_is_400_naming_the_missing_ids()
    {
        using var api = app.Api();
        await api.SubmitAsync(new { id = "dep-present", type = "t" });
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks",
            new { id = "dep-orphan", type = "t", dependencies = new[] { "dep-present", "ghost-b", "ghost-a" } });

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "dependencies");
        Assert.Equal(["ghost-a", "ghost-b"], problem["ids"]!.AsArray().Select(i => (string)i!).Order(StringComparer.Ordinal));
        Assert.Contains("ghost-a", (string)problem["detail"]!, StringComparison.Ordinal);
        await AssertAbsentAsync(api, "dep-orphan");
        Assert.Equal(before, await api.TotalAsync());
    }

    [Fact]
    public async Task A_self_dependency_is_400()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks", new { id = "selfish", type = "t", dependencies = new[] { "selfish" } });

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "dependencies[0]");
        Assert.Contains("itself", problem["errors"]!["dependencies[0]"]![0]!.ToString(), StringComparison.Ordinal);
        await AssertAbsentAsync(api, "selfish");
        Assert.Equal(before, await api.TotalAsync());
    }

    [Fact]
    public async Task A_cycle_in_a_batch_is_400_with_its_path_and_nothing_of_the_batch_is_written()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks/batch", """
            [
              {"id": "cyc-free", "type": "t"},
              {"id": "cyc-a", "type": "t", "dependencies": ["cyc-c", "cyc-free"]},
              {"id": "cyc-b", "type": "t", "dependencies": ["cyc-a"]},
              {"id": "cyc-c", "type": "t", "dependencies": ["cyc-b"]}
            ]
            """);

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "tasks");
        var cycle = problem["cycle"]!.AsArray().Select(i => (string)i!).ToList();
        Assert.True(cycle.Count == 4 && cycle[0] == cycle[^1], $"cycle path [{string.Join(", ", cycle)}]");
        Assert.Equal(["cyc-a", "cyc-b", "cyc-c"], cycle.Take(3).Order(StringComparer.Ordinal));
        Assert.Contains(string.Join(" -> ", cycle), (string)problem["detail"]!, StringComparison.Ordinal);
        foreach (var id in new[] { "cyc-free", "cyc-a", "cyc-b", "cyc-c" })
        {
            await AssertAbsentAsync(api, id);
        }

        Assert.Equal(before, await api.TotalAsync());
    }

    [Fact]
    public async Task A_batch_is_all_or_nothing_on_a_conflict_and_on_a_missing_dependency()
    {
        using var api = app.Api();
        await api.SubmitAsync(new { id = "batch-existing", type = "t" });
        var before = await api.TotalAsync();

        using var conflict = await api.PostJsonAsync("/api/tasks/batch", new object[]
        {
            new { id = "batch-new-1", type = "t" },
            new { id = "batch-existing", type = "t" },
        });
        await Problem.AssertAsync(conflict, HttpStatusCode.Conflict, "batch-existing");

        using var missing = await api.PostJsonAsync("/api/tasks/batch", new
        {
            tasks = new object[]
            {
                new { id = "batch-new-2", type = "t" },
                new { id = "batch-new-3", type = "t", dependencies = new[] { "batch-new-2", "batch-ghost" } },
            },
        });
        var problem = await Problem.AssertAsync(missing, HttpStatusCode.BadRequest, "tasks");
        Assert.Equal(["batch-ghost"], problem["ids"]!.AsArray().Select(i => (string)i!));

        foreach (var id in new[] { "batch-new-1", "batch-new-2", "batch-new-3" })
        {
            await AssertAbsentAsync(api, id);
        }

        Assert.Equal(before, await api.TotalAsync());

        // The same batch without the ghost is accepted whole, dependents in any order.
        using var ok = await api.PostJsonAsync("/api/tasks/batch", """
            [{"id": "batch-new-3", "type": "t", "dependencies": ["batch-new-2", "batch-existing"]}, {"id": "batch-new-2", "type": "t"}]
            """);
        var text = await ok.Content.ReadAsStringAsync();
        Assert.True(ok.StatusCode == HttpStatusCode.Created, text);
        Assert.Equal(["batch-new-2", "batch-new-3"], JsonNode.Parse(text)!.AsArray().Select(t => (string)t!["id"]!).Order(StringComparer.Ordinal));
        Assert.Equal(before + 2, await api.TotalAsync());
    }

    [Theory]
    [InlineData("""{"id": "bad-json", "type": """)]
    [InlineData("""{"id": "bad-json", "type": "t",}""")]
    [InlineData("""{'id': 'bad-json'}""")]
    [InlineData("not json at all")]
    public async Task Malformed_json_is_400_naming_the_body(string json)
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks", json);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "body");
        await AssertAbsentAsync(api, "bad-json");
        Assert.Equal(before, await api.TotalAsync());
    }

    [Theory]
    [InlineData("""{"id": "wrong-1", "type": "t", "duration_ms": "5"}""", "duration_ms")]
    [InlineData("""{"id": "wrong-2", "type": "t", "duration_ms": 1.5}""", "duration_ms")]
    [InlineData("""{"id": "wrong-3", "type": "t", "priority": "high"}""", "priority")]
    [InlineData("""{"id": "wrong-4", "type": "t", "dependencies": "a"}""", "dependencies")]
    [InlineData("""{"id": "wrong-5", "type": "t", "dependencies": [1]}""", "dependencies[0]")]
    [InlineData("""{"id": 5, "type": "t"}""", "id")]
    [InlineData("""{"id": "wrong-7", "type": ["t"]}""", "type")]
    [InlineData("""{"id": "wrong-8", "type": "t", "max_attempts": true}""", "max_attempts")]
    [InlineData("""{"id": "wrong-9", "type": "t", "run_at": "tomorrow"}""", "run_at")]
    [InlineData("""{"id": "wrong-10", "type": "t", "timeout": "300"}""", "timeout")]
    public async Task A_field_of_the_wrong_type_is_400_naming_it(string json, string field)
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks", json);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(before, await api.TotalAsync());
    }

    [Theory]
    [InlineData("""{"id": "range-1", "type": "t", "duration_ms": -1}""", "duration_ms")]
    [InlineData("""{"id": "range-2", "type": "t", "duration_ms": 86400001}""", "duration_ms")]
    [InlineData("""{"id": "range-3", "type": "t", "priority": 0}""", "priority")]
    [InlineData("""{"id": "range-4", "type": "t", "priority": 11}""", "priority")]
    [InlineData("""{"id": "range-5", "type": "t", "max_attempts": 0}""", "max_attempts")]
    [InlineData("""{"id": "bad id", "type": "t"}""", "id")]
    [InlineData("""{"id": "range-7"}""", "type")]
    [InlineData("""{"id": "range-8", "type": ""}""", "type")]
    [InlineData("""{"id": "", "type": "t"}""", "id")]
    [InlineData("""{"id": "range-10", "task_id": "other", "type": "t"}""", "task_id")]
    [InlineData("""{"id": "..", "type": "t"}""", "id")]   // found by the property tests: no URL addresses it
    [InlineData("""{"task_id": ".", "type": "t"}""", "id")]
    public async Task A_value_out_of_range_is_400_naming_the_field(string json, string field)
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks", json);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(before, await api.TotalAsync());
    }

    [Fact]
    public async Task An_id_of_129_characters_is_400_and_of_128_is_accepted()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var tooLong = await api.PostJsonAsync("/api/tasks", new { id = new string('x', 129), type = "t" });
        await Problem.AssertAsync(tooLong, HttpStatusCode.BadRequest, "id");
        Assert.Equal(before, await api.TotalAsync());

        var created = await api.SubmitAsync(new { id = new string('y', 128), type = "t" });
        Assert.Equal(new string('y', 128), (string)created["id"]!);
    }

    [Fact]
    public async Task An_unknown_field_is_400_naming_it()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks", """{"id": "unknown-field", "type": "t", "colour": "red"}""");

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "colour");
        await AssertAbsentAsync(api, "unknown-field");
        Assert.Equal(before, await api.TotalAsync());
    }

    [Theory]
    [InlineData("/api/tasks?status=bogus", "status")]
    [InlineData("/tasks?status=DONE", "status")]
    [InlineData("/api/tasks?limit=0", "limit")]
    [InlineData("/api/tasks?limit=-1", "limit")]
    [InlineData("/api/tasks?limit=abc", "limit")]
    [InlineData("/api/tasks?limit=1001", "limit")]
    [InlineData("/api/tasks?cursor=abc", "cursor")]
    [InlineData("/api/tasks?cursor=0", "cursor")]
    [InlineData("/api/tasks?cursor=-5", "cursor")]
    [InlineData("/api/tasks?offset=-1", "offset")]
    [InlineData("/api/tasks?order=desc", "order")]
    public async Task A_bad_listing_parameter_is_400_naming_it(string url, string field)
    {
        using var api = app.Api();

        using var response = await api.Http.GetAsync(new Uri(url, UriKind.Relative));

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task A_body_over_1_MiB_is_413_with_or_without_a_content_length()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();
        var json = $$$"""{"id": "too-big", "type": "t", "payload": {"blob": "{{{new string('x', 1024 * 1024)}}}"}}""";

        using var sized = await api.PostJsonAsync("/api/tasks", json);
        await Problem.AssertAsync(sized, HttpStatusCode.RequestEntityTooLarge, "body");

        using var chunked = await api.Http.PostAsync(new Uri("/api/tasks", UriKind.Relative), new ChunkedJsonContent(json));
        await Problem.AssertAsync(chunked, HttpStatusCode.RequestEntityTooLarge, "body");

        await AssertAbsentAsync(api, "too-big");
        Assert.Equal(before, await api.TotalAsync());

        // Just under the limit is fine.
        var fits = $$$"""{"id": "just-fits", "type": "t", "payload": {"blob": "{{{new string('x', 1000 * 1000)}}}"}}""";
        using var accepted = await api.PostJsonAsync("/api/tasks", fits);
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task A_non_json_content_type_is_415(string mediaType)
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.Http.PostAsync(
            new Uri("/api/tasks", UriKind.Relative),
            new StringContent("""{"id": "wrong-media", "type": "t"}""", Encoding.UTF8, mediaType));

        await Problem.AssertAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        await AssertAbsentAsync(api, "wrong-media");
        Assert.Equal(before, await api.TotalAsync());
    }

    [Theory]
    [InlineData("/api/tasks/no-such-task")]
    [InlineData("/tasks/no-such-task")]
    [InlineData("/api/tasks/no-such-task/events")]
    public async Task An_unknown_id_is_404(string url)
    {
        using var api = app.Api();

        using var response = await api.Http.GetAsync(new Uri(url, UriKind.Relative));

        var problem = await Problem.AssertAsync(response, HttpStatusCode.NotFound, "no-such-task");
        Assert.Equal("no-such-task", (string)problem["id"]!);
    }

    private static async Task AssertAbsentAsync(Api api, string id)
    {
        using var response = await api.Http.GetAsync(new Uri($"/api/tasks/{Uri.EscapeDataString(id)}", UriKind.Relative));
        Assert.True(response.StatusCode == HttpStatusCode.NotFound,
            $"'{id}' was written by a rejected request: {await response.Content.ReadAsStringAsync()}");
    }
}
