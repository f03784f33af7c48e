using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests;

/// <summary>Seed 000 (Python/FastAPI): POST /tasks, GET /tasks/{id}, GET /tasks, exactly as its README shows.</summary>
public sealed class Seed000Tests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task The_documented_requests_answer_as_documented()
    {
        using var api = app.Api();

        using var created = await api.PostJsonAsync("/tasks", """
            {
              "id": "task-A",
              "type": "data_processing",
              "duration_ms": 5000,
              "dependencies": []
            }
            """);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("application/json", created.Content.Headers.ContentType?.MediaType);
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal("""{"id":"task-A","status":"QUEUED"}""", body.ToJsonString());
        Assert.Equal("/tasks/task-A", created.Headers.Location?.OriginalString);

        var task = await api.GetTaskAsync("task-A", "/tasks");
        Assert.Equal("task-A", (string)task["id"]!);
        Assert.Equal("data_processing", (string)task["type"]!);
        Assert.Equal(5000, (long)task["duration_ms"]!);
        Assert.Empty(task["dependencies"]!.AsArray());
        Assert.Contains((string)task["status"]!, new[] { "QUEUED", "RUNNING" });

        var (list, _) = await api.GetPageAsync("/tasks");
        var entry = Assert.Single(list, t => (string)t!["id"]! == "task-A")!;
        Assert.Contains((string)entry["status"]!, new[] { "QUEUED", "RUNNING", "COMPLETED" });

        using var missing = await api.Http.GetAsync(new Uri("/tasks/task-Z", UriKind.Relative));
        await Problem.AssertAsync(missing, HttpStatusCode.NotFound, "task-Z");

        using var again = await api.PostJsonAsync("/tasks", """{"id": "task-A", "type": "data_processing", "duration_ms": 5000, "dependencies": []}""");
        await Problem.AssertAsync(again, HttpStatusCode.Conflict, "task-A");

        using var dangling = await api.PostJsonAsync("/tasks", """{"id": "task-B", "type": "data_processing", "duration_ms": 10, "dependencies": ["task-Q"]}""");
        var problem = await Problem.AssertAsync(dangling, HttpStatusCode.BadRequest, "dependencies");
        Assert.Contains("task-Q", problem.ToJsonString(), StringComparison.Ordinal);
    }
}

/// <summary>Seed 001 (Node/Express): /api/tasks and /api/stats.</summary>
public sealed class Seed001Tests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task The_documented_requests_answer_as_documented()
    {
        using var api = app.Api();

        var created = await api.SubmitAsync(new { id = "task-1", type = "COMPUTE", duration_ms = 200, dependencies = Array.Empty<string>() });
        Assert.Equal("task-1", (string)created["id"]!);
        Assert.Equal("QUEUED", (string)created["status"]!);

        var task = await api.GetTaskAsync("task-1");
        Assert.Equal(("task-1", "COMPUTE", 200L), ((string)task["id"]!, (string)task["type"]!, (long)task["duration_ms"]!));

        var all = await api.ListAllAsync("/api/tasks");
        Assert.Contains(all, t => (string)t["id"]! == "task-1");

        await api.WaitForStatusAsync(["task-1"], "COMPLETED");

        // The slot goes back through the silo's batcher just after the completion is written.
        var stats = await Poll.UntilAsync("the slot is given back", () => api.GetStatsAsync(),
            s => (int)s["slots"]!["in_use"]! == 0, s => s.ToJsonString(), TimeSpan.FromSeconds(10));
        var counts = stats["counts"]!.AsObject();
        Assert.Equal(
            ["CANCELLED", "COMPLETED", "FAILED", "QUEUED", "RUNNING", "SCHEDULED", "UPSTREAM_FAILED", "WAITING"],
            counts.Select(c => c.Key).Order(StringComparer.Ordinal));
        Assert.Equal(1, (long)counts["COMPLETED"]!);
        Assert.Equal(1, (long)stats["total"]!);
        Assert.Equal(counts.Sum(c => (long)c.Value!), (long)stats["total"]!);
        Assert.Equal(3, (int)stats["slots"]!["limit"]!);
        Assert.Equal(0, (int)stats["slots"]!["in_use"]!);
        Assert.True((int)stats["silos_alive"]! >= 1, stats.ToJsonString());
    }
}

/// <summary>Seed 002: POST /jobs?task_type=..&amp;payload=.. (no body), GET /stats.</summary>
public sealed class Seed002Tests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task A_job_submitted_by_query_string_runs()
    {
        using var api = app.Api();

        using var response = await api.Http.PostAsync(new Uri("/jobs?task_type=test&payload=hello", UriKind.Relative), null);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var body = JsonNode.Parse(text)!.AsObject();
        var id = (string)body["id"]!;
        Assert.Equal("QUEUED", (string)body["status"]!);
        Assert.NotNull(response.Headers.Location);

        var task = await api.GetTaskAsync(id);
        Assert.Equal("test", (string)task["type"]!);
        Assert.Equal("hello", (string)task["payload"]!);
        await api.WaitForStatusAsync([id], "COMPLETED");

        var stats = await api.GetStatsAsync("/stats");
        Assert.Equal(1, (long)stats["counts"]!["COMPLETED"]!);
    }

    [Fact]
    public async Task A_job_without_a_type_is_rejected_naming_task_type()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.Http.PostAsync(new Uri("/jobs?payload=hello", UriKind.Relative), null);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "task_type");
        Assert.Equal(before, await api.TotalAsync());
    }
}

/// <summary>Seed 003: POST /tasks/ with name, payload and run_at (no offset, so UTC).</summary>
public sealed class Seed003Tests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task The_documented_request_is_accepted_with_its_field_names()
    {
        using var api = app.Api();

        var created = await api.SubmitAsync(new
        {
            name = "send_email",
            payload = new { to = "user@example.com" },
            run_at = "2026-01-09T10:00:00",
        }, "/tasks/");

        var id = (string)created["id"]!;
        Assert.False(string.IsNullOrEmpty(id));
        var task = await api.GetTaskAsync(id, "/tasks");
        Assert.Equal("send_email", (string)task["type"]!);
        Assert.Equal("user@example.com", (string)task["payload"]!["to"]!);
        Assert.Equal("2026-01-09T10:00:00.000Z", (string)task["run_at"]!);
        await api.WaitForStatusAsync([id], "COMPLETED");
    }
}

/// <summary>Seed 004 (the challenge brief): task_id, task_type, priority, timeout in seconds;
/// listing with status, limit and offset.</summary>
public sealed class Seed004Tests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task The_documented_submission_and_listing_work()
    {
        using var api = app.Api();

        var created = await api.SubmitAsync(new
        {
            task_id = "unique-task-id",
            task_type = "processing",
            payload = new { data = "task-specific-data", parameters = new { } },
            priority = 1,
            dependencies = Array.Empty<string>(),
            timeout = 300,
        });
        Assert.Equal("""{"id":"unique-task-id","status":"QUEUED"}""", created.ToJsonString());
        await api.SubmitAsync(new { task_id = "task-a", task_type = "processing" });
        await api.SubmitAsync(new { task_id = "task-b", dependencies = new[] { "task-a" }, task_type = "analysis", payload = new { input = "result_from_task_a" } });
        await api.SubmitAsync(new { task_id = "urgent-task", priority = 10, task_type = "critical_analysis" });

        var task = await api.GetTaskAsync("unique-task-id");
        Assert.Equal("processing", (string)task["type"]!);
        Assert.Equal(1, (int)task["priority"]!);
        Assert.Equal(300_000, (long)task["timeout_ms"]!);
        Assert.Equal("task-specific-data", (string)task["payload"]!["data"]!);
        Assert.Equal(["task-a"], (await api.GetTaskAsync("task-b"))["dependencies"]!.AsArray().Select(d => (string)d!));

        string[] ids = ["unique-task-id", "task-a", "task-b", "urgent-task"];
        var done = await api.WaitForStatusAsync(ids, "COMPLETED");
        foreach (var field in new[] { "worker_id", "created_at", "started_at", "completed_at", "result", "error" })
        {
            Assert.True(done["task-b"].ContainsKey(field), $"GET /api/tasks/task-b has no {field}: {done["task-b"].ToJsonString()}");
        }

        Assert.False(string.IsNullOrEmpty((string?)done["task-b"]["worker_id"]));
        Assert.EndsWith("Z", (string)done["task-b"]["created_at"]!, StringComparison.Ordinal);
        Assert.True(
            DateTimeOffset.Parse((string)done["task-b"]["started_at"]!, System.Globalization.CultureInfo.InvariantCulture)
                >= DateTimeOffset.Parse((string)done["task-a"]["completed_at"]!, System.Globalization.CultureInfo.InvariantCulture),
            "task-b started before task-a completed");

        var (all, _) = await api.GetPageAsync("/api/tasks?status=completed&limit=10&offset=0");
        Assert.Equal(ids.Order(StringComparer.Ordinal), all.Select(t => (string)t!["id"]!).Order(StringComparer.Ordinal));
        var (page, _) = await api.GetPageAsync("/api/tasks?status=completed&limit=2&offset=1");
        Assert.Equal(all.Skip(1).Take(2).Select(t => (string)t!["id"]!), page.Select(t => (string)t!["id"]!));
        var (none, _) = await api.GetPageAsync("/api/tasks?status=failed&limit=10&offset=0");
        Assert.Empty(none);
    }
}
