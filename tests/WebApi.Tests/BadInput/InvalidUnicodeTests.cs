using System.Net;
using System.Text;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.BadInput;

/// <summary>Issue 12: text System.Text.Json parses but cannot read (bytes that are not UTF-8, a lone
/// surrogate escape) was a 500 with an unhandled exception in the log. It is a 400 naming the field,
/// and nothing is stored.</summary>
public sealed class InvalidUnicodeTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    public static TheoryData<string, byte[], string> Cases => new()
    {
        { "/api/tasks", Bytes("{\"id\": \"utf8-type\", \"type\": \"a", [0xFF, 0xFE], "\"}"), "type" },
        { "/api/tasks", Bytes("{\"id\": \"utf8-payload\", \"type\": \"t\", \"payload\": {\"to\": \"x", [0xC3], "\"}}"), "payload.to" },
        { "/api/tasks", Bytes("{\"id\": \"utf8-deep\", \"type\": \"t\", \"payload\": [1, {\"a\": [\"", [0xED, 0xA0, 0x80], "\"]}]}"), "payload[1].a[0]" },
        { "/api/tasks", Bytes("{\"id\": \"utf8-name\", \"type\": \"t\", \"", [0xC0, 0x80], "\": 1}"), "body" },
        { "/api/tasks", Bytes("{\"id\": \"utf8-nested-name\", \"type\": \"t\", \"payload\": {\"", [0xFF], "\": 1}}"), "payload" },
        { "/api/tasks", Bytes("""{"id": "surrogate-type", "type": "\ud800"}"""), "type" },
        { "/api/tasks", Bytes("""{"id": "\udc00x", "type": "t"}"""), "id" },
        { "/tasks", Bytes("""{"id": "surrogate-dep", "type": "t", "dependencies": ["\ud800\u0041"]}"""), "dependencies[0]" },
        { "/api/tasks", Bytes("""{"id": "surrogate-payload", "type": "t", "payload": "\udbff"}"""), "payload" },
        { "/api/tasks/batch", Bytes("""[{"id": "batch-ok", "type": "t"}, {"id": "batch-bad", "type": "\ud800"}]"""), "tasks[1].type" },
        { "/api/tasks/batch", Bytes("{\"tasks\": [{\"id\": \"wrapped-bad\", \"type\": \"t\", \"payload\": {\"k\": \"", [0xFF], "\"}}]}"), "tasks[0].payload.k" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Invalid_unicode_is_400_naming_the_field_and_stores_nothing(string path, byte[] body, string field)
    {
        using var api = app.Api();
        var before = await api.TotalAsync();
        var errorsBefore = app.Logs.Errors.Count;

        using var response = await api.PostBytesAsync(path, body);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(before, await api.TotalAsync());
        foreach (var id in new[] { "utf8-type", "utf8-payload", "utf8-deep", "utf8-name", "utf8-nested-name", "surrogate-type", "surrogate-dep", "surrogate-payload", "batch-ok", "batch-bad", "wrapped-bad" })
        {
            using var get = await api.Http.GetAsync(new Uri($"/api/tasks/{id}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }

        var logged = app.Logs.ErrorsSince(errorsBefore);
        Assert.True(logged.Count == 0, "the server logged errors:\n" + LogCollector.Describe(logged));
    }

    [Fact]
    public async Task A_surrogate_pair_escape_is_text_and_accepted()
    {
        using var api = app.Api();

        using var response = await api.PostBytesAsync("/api/tasks", Bytes("""{"id": "pair", "type": "t", "payload": {"emoji": "\ud83d\ude00", "raw": "é€😀"}}"""));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var task = await api.GetTaskAsync("pair");
        Assert.Equal("😀", (string)task["payload"]!["emoji"]!);
        Assert.Equal("é€😀", (string)task["payload"]!["raw"]!);
    }

    private static byte[] Bytes(string json) => Encoding.UTF8.GetBytes(json);

    private static byte[] Bytes(string head, byte[] bad, string tail) =>
        [.. Encoding.UTF8.GetBytes(head), .. bad, .. Encoding.UTF8.GetBytes(tail)];
}
