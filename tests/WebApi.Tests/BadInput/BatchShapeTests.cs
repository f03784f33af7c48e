using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Issue 12: the batch wrapper {"tasks": [...]} ignored unknown fields, and a batch over the
/// task limit was a 400 while the README promises 413 for requests past a limit.</summary>
public sealed class BatchShapeTests(BatchShapeTests.SmallBatches app) : IClassFixture<BatchShapeTests.SmallBatches>
{
    /// <summary>A batch limit of 3 tasks, so the test need not send 200,001.</summary>
    public sealed class SmallBatches : SchedulerApp
    {
        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { ["Api:MaxBatchTasks"] = "3" };
    }

    [Fact]
    public async Task An_unknown_field_beside_tasks_is_400_naming_it_and_stores_nothing()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync("/api/tasks/batch", """{"tasks": [{"id": "wrapper-colour", "type": "t"}], "colour": 1}""");

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "colour");
        await AssertAbsentAsync(api, "wrapper-colour");
        Assert.Equal(before, await api.TotalAsync());
    }

    [Fact]
    public async Task A_wrapper_without_tasks_is_400_naming_tasks()
    {
        using var api = app.Api();

        using var response = await api.PostJsonAsync("/api/tasks/batch", """{"task": [{"id": "wrapper-typo", "type": "t"}]}""");

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "task");
        await AssertAbsentAsync(api, "wrapper-typo");
        Assert.NotNull(problem["errors"]!["task"]);
    }

    [Fact]
    public async Task A_batch_over_the_task_limit_is_413_naming_tasks_and_the_limit_and_stores_nothing()
    {
        using var api = app.Api();
        var before = await api.TotalAsync();
        var four = new JsonArray([.. Enumerable.Range(0, 4).Select(i => (JsonNode)new JsonObject { ["id"] = $"over-limit-{i}", ["type"] = "t" })]);

        foreach (var body in new[] { four.ToJsonString(), new JsonObject { ["tasks"] = four.DeepClone() }.ToJsonString() })
        {
            using var response = await api.PostJsonAsync("/api/tasks/batch", body);

            var problem = await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "tasks");
            Assert.Equal("tasks", (string)problem["field"]!);
            Assert.Equal(3, (int)problem["max_tasks"]!);
            Assert.Equal(4, (int)problem["count"]!);
        }

        for (var i = 0; i < 4; i++)
        {
            await AssertAbsentAsync(api, $"over-limit-{i}");
        }

        Assert.Equal(before, await api.TotalAsync());

        // At the limit is fine.
        using var fits = await api.PostJsonAsync("/api/tasks/batch", new JsonArray([.. four.Take(3).Select(t => t!.DeepClone())]).ToJsonString());
        Assert.Equal(HttpStatusCode.Created, fits.StatusCode);
        Assert.Equal(before + 3, await api.TotalAsync());
    }

    private static async Task AssertAbsentAsync(Api api, string id)
    {
        using var response = await api.Http.GetAsync(new Uri($"/api/tasks/{id}", UriKind.Relative));
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"'{id}' was written by a rejected request");
    }
}
