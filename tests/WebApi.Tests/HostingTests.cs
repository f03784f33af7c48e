using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests;

public sealed class HostingTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_checks_answer_healthy(string path)
    {
        using var api = app.Api();

        using var response = await api.Http.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Swagger_ui_is_served_at_docs()
    {
        using var api = app.Api();

        using var response = await api.Http.GetAsync(new Uri("/docs", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("swagger-ui", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_task_api()
    {
        using var api = app.Api();

        using var response = await api.Http.GetAsync(new Uri("/docs/v1/swagger.json", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        var paths = document["paths"]!.AsObject();
        foreach (var path in new[] { "/api/tasks", "/api/tasks/{id}", "/api/tasks/batch", "/api/stats", "/tasks", "/jobs" })
        {
            Assert.True(paths.Any(p => p.Key.TrimEnd('/') == path), $"{path} is not in the OpenAPI document: {string.Join(", ", paths.Select(p => p.Key))}");
        }
    }
}
