using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace OrleansScheduler.EndToEnd.Tests.Support;

/// <summary>The scheduler's HTTP API as the end-to-end tests use it: JSON in and out, and an
/// assertion on every answer that says what came back plus whatever <c>diagnostics</c> describes
/// (typically the processes' last output lines).</summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Func<string> _diagnostics;

    public ApiClient(Uri baseAddress, Func<string> diagnostics, TimeSpan? timeout = null)
    {
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        _diagnostics = diagnostics;
    }

    public HttpClient Http => _http;

    /// <summary>Waits until <paramref name="server"/> answers /health/ready with 200; fails at once
    /// if it exits first.</summary>
    public async Task WaitReadyAsync(ServerProcess server, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(server);
        var state = await Poll.UntilAsync(
            $"{server.Name} answers /health/ready on port {server.Port}",
            async () =>
            {
                if (!server.IsRunning)
                {
                    return "exited";
                }

                try
                {
                    using var response = await _http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                    return response.StatusCode == HttpStatusCode.OK ? "ready" : $"{(int)response.StatusCode}";
                }
                catch (HttpRequestException ex)
                {
                    return ex.Message;
                }
            },
            state => state is "ready" or "exited",
            state => $"{state}\n{_diagnostics()}",
            timeout);
        Assert.True(state == "ready", $"{server.Name} exited before it was ready\n{_diagnostics()}");
    }

    /// <summary>POSTs a task (or anything answering {"id": ...}); asserts 201 and returns the id.</summary>
    public async Task<string> SubmitAsync(string path, object body)
    {
        using var response = await _http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path} answered {(int)response.StatusCode}: {text}\n{_diagnostics()}");
        return (string)JsonNode.Parse(text)!["id"]!;
    }

    /// <summary>POSTs a batch to /api/tasks/batch; asserts 201 and returns the ids in order.</summary>
    public async Task<List<string>> SubmitBatchAsync(IEnumerable<object> tasks)
    {
        using var response = await _http.PostAsJsonAsync("/api/tasks/batch", tasks);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/tasks/batch answered {(int)response.StatusCode}: {text}\n{_diagnostics()}");
        return JsonNode.Parse(text)!.AsArray().Select(t => (string)t!["id"]!).ToList();
    }

    /// <summary>POSTs and returns the status and body, whatever they are; a request that got no
    /// answer at all (connection refused, reset, timed out) is status 0 with the error as body.</summary>
    public async Task<(int Status, string Body)> TryPostAsync(string path, object body)
    {
        try
        {
            using var response = await _http.PostAsJsonAsync(path, body);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return (0, ex.Message);
        }
    }

    /// <summary>GETs and returns the status and body, whatever they are (status 0: no answer).</summary>
    public async Task<(int Status, string Body)> TryGetAsync(string url)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri(url, UriKind.Relative));
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return (0, ex.Message);
        }
    }

    public async Task<List<JsonObject>> ListAsync(string url) =>
        (await GetArrayAsync(url)).Select(i => i!.AsObject()).ToList();

    /// <summary>Every task, following the Link header page by page.</summary>
    public async Task<List<JsonObject>> AllTasksAsync()
    {
        var tasks = new List<JsonObject>();
        string? url = "/api/tasks?limit=1000";
        while (url is not null)
        {
            using var response = await _http.GetAsync(new Uri(url, UriKind.RelativeOrAbsolute));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url} answered {(int)response.StatusCode}: {text}\n{_diagnostics()}");
            tasks.AddRange(JsonNode.Parse(text)!.AsArray().Select(t => t!.AsObject()));
            url = NextLink(response);
        }

        return tasks;
    }

    public async Task<JsonObject> GetAsync(string url) => (await GetNodeAsync(url)).AsObject();

    public async Task<JsonArray> GetArrayAsync(string url) => (await GetNodeAsync(url)).AsArray();

    public async Task<JsonNode> GetNodeAsync(string url)
    {
        using var response = await _http.GetAsync(new Uri(url, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url} answered {(int)response.StatusCode}: {text}\n{_diagnostics()}");
        return JsonNode.Parse(text)!;
    }

    public void Dispose() => _http.Dispose();

    private static string? NextLink(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }

        foreach (var link in links.SelectMany(l => l.Split(',')))
        {
            var parts = link.Split(';', StringSplitOptions.TrimEntries);
            if (parts.Length > 1 && parts.Skip(1).Any(p => p.Replace(" ", "", StringComparison.Ordinal) is "rel=\"next\"" or "rel=next"))
            {
                return parts[0].Trim('<', '>');
            }
        }

        return null;
    }
}
