using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Issue 12: the batch wrapper {"tasks": [...]} ignored unknown fields.</summary>
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

    private static async Task AssertAbsentAsync(Api api, string id)
    {
        using var response = await api.Http.GetAsync(new Uri($"/api/tasks/{id}", UriKind.Relative));
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"'{id}' was written by a rejected request");
    }
}
