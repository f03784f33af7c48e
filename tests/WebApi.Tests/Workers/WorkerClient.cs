using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Workers;

/// <summary>An external worker as the tests play it: the protocol's requests over real HTTP, and a
/// heartbeat loop that keeps it alive while a test holds its leases.</summary>
public sealed class WorkerClient(Api api, string id) : IAsyncDisposable
{
    private CancellationTokenSource? _heartbeats;
    private Task _loop = Task.CompletedTask;

    public string Id { get; } = id;

    public async Task<JsonObject> RegisterAsync(string[] capabilities, int maxConcurrent)
    {
        using var response = await api.PostJsonAsync("/api/workers/register", new { worker_id = Id, capabilities, max_concurrent_tasks = maxConcurrent });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"register {Id} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Heartbeats every 200 ms (listing no tasks renews all its leases) until disposed.</summary>
    public void KeepAlive()
    {
        _heartbeats = new CancellationTokenSource();
        var token = _heartbeats.Token;
        _loop = Task.Run(async () =>
        {
            // A worker's heartbeat cadence, as the reference worker keeps it: a period, not a wait.
            using var period = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
            do
            {
                using (await api.PostJsonAsync($"/api/workers/{Id}/heartbeat", new { status = "active" }))
                {
                }
            }
            while (await period.WaitForNextTickAsync(token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default));
        }, token);
    }

    public async Task StopHeartbeatsAsync()
    {
        if (_heartbeats is null)
        {
            return;
        }

        await _heartbeats.CancelAsync();
        await _loop;
        _heartbeats.Dispose();
        _heartbeats = null;
    }

    public async Task<(HttpStatusCode Status, JsonObject Body)> HeartbeatAsync(object body)
    {
        using var response = await api.PostJsonAsync($"/api/workers/{Id}/heartbeat", body);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    /// <summary>Leases; asserts 200 and returns the tasks with how long the poll took.</summary>
    public async Task<(List<JsonObject> Tasks, TimeSpan Took)> LeaseAsync(int maxTasks, int waitMs = 0)
    {
        var clock = Stopwatch.StartNew();
        using var response = await api.PostJsonAsync($"/api/workers/{Id}/lease", new { max_tasks = maxTasks, wait_ms = waitMs });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"lease by {Id} answered {(int)response.StatusCode}: {text}");
        var tasks = JsonNode.Parse(text)!["tasks"]!.AsArray().Select(t => t!.AsObject()).ToList();
        return (tasks, clock.Elapsed);
    }

    public async Task<(HttpStatusCode Status, JsonObject Body)> CompleteAsync(string taskId, string leaseToken, object? result = null)
    {
        using var response = await api.PostJsonAsync($"/api/workers/{Id}/tasks/{taskId}/complete", new { lease_token = leaseToken, result });
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    public async Task<(HttpStatusCode Status, JsonObject Body)> FailAsync(string taskId, string leaseToken, string error)
    {
        using var response = await api.PostJsonAsync($"/api/workers/{Id}/tasks/{taskId}/fail", new { lease_token = leaseToken, error });
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    public async Task<(HttpStatusCode Status, JsonObject Body)> DeregisterAsync()
    {
        using var response = await api.Http.PostAsync(new Uri($"/api/workers/{Id}/deregister", UriKind.Relative), null);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    public async ValueTask DisposeAsync()
    {
        await StopHeartbeatsAsync();
        using (await api.Http.PostAsync(new Uri($"/api/workers/{Id}/deregister", UriKind.Relative), null))
        {
        }
    }
}
