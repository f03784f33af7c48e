using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace OrleansScheduler.Worker;

/// <summary>The worker side of /api/workers over one pooled HttpClient. Every call returns an
/// <see cref="ApiAnswer"/> rather than throwing: what to do with a 404, a 409 or no answer is the
/// caller's rule. Only the caller's own cancellation (shutdown) throws.</summary>
internal sealed class SchedulerClient : IDisposable
{
    /// <summary>How long a call other than the lease long poll waits for its answer.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    private static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };

    private readonly HttpClient _http;
    private readonly string _workerPath;

    public SchedulerClient(Uri server, string workerId, string? apiKey, int maxConcurrent)
    {
        ArgumentNullException.ThrowIfNull(server);
        var handler = new SocketsHttpHandler
        {
            // Reports of concurrent tasks, the long poll and the heartbeat each need a connection.
            MaxConnectionsPerServer = maxConcurrent + 4,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri(server.AbsoluteUri.TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
        if (apiKey is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        _workerPath = $"api/workers/{Uri.EscapeDataString(workerId)}";
    }

    public Task<ApiAnswer> RegisterAsync(string workerId, IReadOnlyList<string> capabilities, int maxConcurrent, CancellationToken cancellation) =>
        PostAsync("api/workers/register", w =>
        {
            w.WriteString("worker_id", workerId);
            w.WriteStartArray("capabilities");
            foreach (var capability in capabilities)
            {
                w.WriteStringValue(capability);
            }

            w.WriteEndArray();
            w.WriteNumber("max_concurrent_tasks", maxConcurrent);
        }, CallTimeout, cancellation);

    public Task<ApiAnswer> HeartbeatAsync(IEnumerable<string> currentTasks, SystemInfo info, CancellationToken cancellation) =>
        PostAsync($"{_workerPath}/heartbeat", w =>
        {
            w.WriteString("status", "active");
            w.WriteStartArray("current_tasks");
            foreach (var id in currentTasks)
            {
                w.WriteStringValue(id);
            }

            w.WriteEndArray();
            w.WriteStartObject("system_info");
            WriteUsage(w, "cpu_usage", info.CpuUsage);
            WriteUsage(w, "memory_usage", info.MemoryUsage);
            WriteUsage(w, "disk_usage", info.DiskUsage);
            w.WriteEndObject();
        }, CallTimeout, cancellation);

    public Task<ApiAnswer> LeaseAsync(int maxTasks, int waitMs, CancellationToken cancellation) =>
        PostAsync($"{_workerPath}/lease", w =>
        {
            w.WriteNumber("max_tasks", maxTasks);
            w.WriteNumber("wait_ms", waitMs);
        }, TimeSpan.FromMilliseconds(waitMs) + CallTimeout, cancellation);

    public Task<ApiAnswer> CompleteAsync(string taskId, string leaseToken, string? resultJson, CancellationToken cancellation) =>
        PostAsync($"{_workerPath}/tasks/{Uri.EscapeDataString(taskId)}/complete", w =>
        {
            w.WriteString("lease_token", leaseToken);
            if (resultJson is not null)
            {
                w.WritePropertyName("result");
                w.WriteRawValue(resultJson, skipInputValidation: true);
            }
        }, CallTimeout, cancellation);

    public Task<ApiAnswer> FailAsync(string taskId, string leaseToken, string error, CancellationToken cancellation) =>
        PostAsync($"{_workerPath}/tasks/{Uri.EscapeDataString(taskId)}/fail", w =>
        {
            w.WriteString("lease_token", leaseToken);
            w.WriteString("error", error);
        }, CallTimeout, cancellation);

    public Task<ApiAnswer> DeregisterAsync(CancellationToken cancellation) =>
        PostAsync($"{_workerPath}/deregister", _ => { }, CallTimeout, cancellation);

    public void Dispose() => _http.Dispose();

    private static void WriteUsage(Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
    }

    private async Task<ApiAnswer> PostAsync(string path, Action<Utf8JsonWriter> body, TimeSpan timeout, CancellationToken cancellation)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        using var content = new ReadOnlyMemoryContent(buffer.WrittenMemory);
        content.Headers.ContentType = Json;
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
            return new ApiAnswer((int)response.StatusCode, text);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return new ApiAnswer(0, $"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException ex)
        {
            return new ApiAnswer(0, ex.InnerException?.Message ?? ex.Message);
        }
    }
}
