using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace OrleansScheduler.WebApi.Tests.Support;

/// <summary>The scheduler's HTTP API as the tests use it: raw requests plus a few reads that wait.</summary>
public sealed partial class Api(HttpClient http) : IDisposable
{
    public HttpClient Http { get; } = http;

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        Http.PostAsync(new Uri(path, UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>Posts raw bytes as application/json: for bodies no JSON writer would produce.</summary>
    public Task<HttpResponseMessage> PostBytesAsync(string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return Http.PostAsync(new Uri(path, UriKind.Relative), content);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) =>
        PostJsonAsync(path, JsonSerializer.Serialize(body));

    /// <summary>Submits one task and insists on 201.</summary>
    public async Task<JsonObject> SubmitAsync(object body, string path = "/api/tasks")
    {
        using var response = await PostJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<JsonObject> GetTaskAsync(string id, string prefix = "/api/tasks")
    {
        using var response = await Http.GetAsync(new Uri($"{prefix}/{Uri.EscapeDataString(id)}", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {prefix}/{id} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<JsonArray> GetEventsAsync(string id)
    {
        using var response = await Http.GetAsync(new Uri($"/api/tasks/{Uri.EscapeDataString(id)}/events", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET events of {id} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsArray();
    }

    public async Task<JsonObject> GetStatsAsync(string path = "/api/stats")
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>GETs a JSON object; asserts 200.</summary>
    public async Task<JsonObject> GetAsync(string path) => (await GetNodeAsync(path)).AsObject();

    /// <summary>GETs a JSON array; asserts 200.</summary>
    public async Task<JsonArray> GetArrayAsync(string path) => (await GetNodeAsync(path)).AsArray();

    private async Task<JsonNode> GetNodeAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public async Task<long> TotalAsync() => (long)(await GetStatsAsync())["total"]!;

    /// <summary>One page of a listing: the items and the next page's URL from the Link header.</summary>
    public async Task<(JsonArray Items, string? Next)> GetPageAsync(string url)
    {
        using var response = await Http.GetAsync(new Uri(url, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url} answered {(int)response.StatusCode}: {text}");
        string? next = null;
        if (response.Headers.TryGetValues("Link", out var links))
        {
            var match = NextLink().Match(string.Join(",", links));
            Assert.True(match.Success, $"Link header without rel=\"next\": {string.Join(",", links)}");
            next = match.Groups[1].Value;
        }

        return (JsonNode.Parse(text)!.AsArray(), next);
    }

    /// <summary>Every page of a listing, following Link headers.</summary>
    public async Task<List<JsonObject>> ListAllAsync(string url = "/api/tasks?limit=1000")
    {
        var all = new List<JsonObject>();
        string? next = url;
        for (var pages = 0; next is not null; pages++)
        {
            Assert.True(pages < 10_000, "the Link headers never end");
            var (items, following) = await GetPageAsync(next);
            all.AddRange(items.Select(i => i!.AsObject()));
            next = following;
        }

        return all;
    }

    /// <summary>Waits until every task in <paramref name="ids"/> is in a status <paramref name="done"/>
    /// accepts; a failed wait prints every task's status and attempts.</summary>
    public async Task<Dictionary<string, JsonObject>> WaitForAsync(IReadOnlyCollection<string> ids, Func<string, bool> done, string what, TimeSpan? timeout = null) =>
        await Poll.UntilAsync(
            what,
            async () =>
            {
                var tasks = new Dictionary<string, JsonObject>();
                foreach (var id in ids)
                {
                    tasks[id] = await GetTaskAsync(id);
                }

                return tasks;
            },
            tasks => tasks.Values.All(t => done((string)t["status"]!)),
            Describe,
            timeout);

    public Task<Dictionary<string, JsonObject>> WaitForStatusAsync(IReadOnlyCollection<string> ids, string status, TimeSpan? timeout = null) =>
        WaitForAsync(ids, s => s == status, $"[{string.Join(", ", ids)}] are all {status}", timeout);

    public static string Describe(Dictionary<string, JsonObject> tasks) =>
        string.Join(", ", tasks.Select(t => $"{t.Key}={t.Value["status"]} (attempts {t.Value["attempts"]}, error {t.Value["error"]?.ToJsonString() ?? "null"})"));

    public void Dispose() => Http.Dispose();

    [GeneratedRegex("<([^>]+)>\\s*;\\s*rel=\"next\"")]
    private static partial Regex NextLink();
}

/// <summary>Checks of a problem+json answer.</summary>
public static class Problem
{
    /// <summary>Asserts the status and the media type, and that the body names <paramref name="field"/>
    /// (in "errors" for a 400, else anywhere in the body). Returns the body.</summary>
    public static async Task<JsonObject> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)status, (int)body["status"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)body["title"]), text);
        if (field is not null)
        {
            if (status == HttpStatusCode.BadRequest)
            {
                var errors = body["errors"]?.AsObject();
                Assert.True(errors is not null && errors.ContainsKey(field), $"errors do not name '{field}': {text}");
                Assert.False(string.IsNullOrWhiteSpace(errors![field]![0]?.ToString()), text);
            }
            else
            {
                Assert.Contains(field, text, StringComparison.Ordinal);
            }
        }

        return body;
    }
}

/// <summary>A JSON body sent without a Content-Length (chunked), to test the streaming size check.</summary>
public sealed class ChunkedJsonContent : HttpContent
{
    private readonly byte[] _bytes;

    public ChunkedJsonContent(string json)
    {
        _bytes = Encoding.UTF8.GetBytes(json);
        Headers.ContentType = new MediaTypeHeaderValue("application/json");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(_bytes).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
