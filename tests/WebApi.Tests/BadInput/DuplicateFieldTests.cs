using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Found by the property tests of issue 12: a task that held a field twice
/// ({"type": "a", ..., "type": "b"}) was accepted, and which value was stored was the reader's
/// choice. It is a 400 naming the field, and nothing is stored.</summary>
public sealed class DuplicateFieldTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Theory]
    [InlineData("/api/tasks", """{"id": "twice-type", "type": "a", "duration_ms": 1, "type": "b"}""", "type")]
    [InlineData("/tasks", """{"id": "twice-timeout", "type": "a", "timeout": [1], "timeout": 300}""", "timeout")]
    [InlineData("/api/tasks", """{"id": "twice-id", "id": "twice-id", "type": "a"}""", "id")]
    [InlineData("/api/tasks/batch", """[{"id": "twice-batch", "type": "a", "priority": 1, "priority": 9}]""", "tasks[0].priority")]
    [InlineData("/api/tasks/batch", """{"tasks": [{"id": "twice-wrapped", "type": "a"}], "tasks": [{"id": "twice-other", "type": "b"}]}""", "tasks")]
    public async Task A_field_sent_twice_is_400_naming_it_and_stores_nothing(string path, string json, string field)
    {
        using var api = app.Api();
        var before = await api.TotalAsync();

        using var response = await api.PostJsonAsync(path, json);

        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Contains("more than once", problem["errors"]![field]![0]!.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, await api.TotalAsync());
        foreach (var id in new[] { "twice-type", "twice-timeout", "twice-id", "twice-batch", "twice-wrapped", "twice-other" })
        {
            using var get = await api.Http.GetAsync(new Uri($"/api/tasks/{id}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }
    }
}
