using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>One scheduler (the real WebApi with its in-process silo) on its own SQLite file, driven
/// over HTTP the way a user drives it with curl. Each test starts its own, so tests run in
/// parallel safely; a second one can be started on the same file to test a restart.</summary>
public sealed class LifecycleScheduler : IAsyncDisposable
{
    private readonly Factory _factory;
    private readonly string? _ownedFolder;

    private LifecycleScheduler(Factory factory, string? ownedFolder)
    {
        _factory = factory;
        _ownedFolder = ownedFolder;
        Http = factory.CreateClient();
        Http.Timeout = TimeSpan.FromMinutes(5);
    }

    public HttpClient Http { get; }

    public string DatabasePath => _factory.DatabasePath;

    /// <summary>Starts a scheduler with <paramref name="slots"/> slots. Without
    /// <paramref name="databasePath"/> it gets a fresh database in a temp folder it deletes on
    /// dispose; with one, the caller owns the file (for restarts).</summary>
    public static LifecycleScheduler Start(
        int slots = 3,
        Action<IServiceCollection>? services = null,
        string? databasePath = null,
        IReadOnlyDictionary<string, string>? settings = null)
    {
        string? folder = null;
        if (databasePath is null)
        {
            folder = NewFolder();
            databasePath = Path.Combine(folder, "scheduler.db");
        }

        var all = new Dictionary<string, string>
        {
            ["Scheduler:MaxConcurrentTasks"] = slots.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        return new LifecycleScheduler(new Factory(databasePath, all, services), folder);
    }

    /// <summary>A temp folder for a database that outlives one scheduler; delete with <see cref="DeleteFolder"/>.</summary>
    public static string NewFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-lifecycle-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    public static void DeleteFolder(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup if a file is still held.
        }
    }

    // ---- requests, as curl would send them ----

    public Task<HttpResponseMessage> PostAsync(string path, JsonNode? body) =>
        PostAsync(path, body?.ToJsonString() ?? "");

    public Task<HttpResponseMessage> PostAsync(string path, string json) =>
        Http.PostAsync(new Uri(path, UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>POST /api/tasks, insisting on 201; returns {"id","status"}.</summary>
    public async Task<JsonObject> SubmitAsync(JsonObject task)
    {
        ArgumentNullException.ThrowIfNull(task);
        using var response = await PostAsync("/api/tasks", task);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/tasks {task.ToJsonString()} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>POST /api/tasks/{id}/{action} (cancel, retry), insisting on 200; returns {"id","status"}.</summary>
    public async Task<JsonObject> ActAsync(string id, string action)
    {
        using var response = await PostAsync($"/api/tasks/{Uri.EscapeDataString(id)}/{action}", (JsonNode?)null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK,
            $"POST /api/tasks/{id}/{action} answered {(int)response.StatusCode}: {text}\n{await DescribeAsync(id)}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<JsonObject> GetAsync(string id)
    {
        using var response = await Http.GetAsync(new Uri($"/api/tasks/{Uri.EscapeDataString(id)}", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api/tasks/{id} answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<HttpStatusCode> StatusCodeOfGetAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        return response.StatusCode;
    }

    public async Task<JsonArray> EventsAsync(string id)
    {
        using var response = await Http.GetAsync(new Uri($"/api/tasks/{Uri.EscapeDataString(id)}/events", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api/tasks/{id}/events answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsArray();
    }

    public async Task<JsonObject> StatsAsync()
    {
        using var response = await Http.GetAsync(new Uri("/api/stats", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api/stats answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    // ---- waits on conditions, never fixed sleeps ----

    /// <summary>Polls GET /api/tasks/{id} until <paramref name="done"/> holds; a timeout prints the
    /// task and its events as last seen.</summary>
    public async Task<JsonObject> WaitAsync(string id, Func<JsonObject, bool> done, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(done);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var limit = timeout ?? Until.DefaultTimeout;
        while (true)
        {
            var task = await GetAsync(id);
            if (done(task))
            {
                return task;
            }

            if (clock.Elapsed > limit)
            {
                throw new Xunit.Sdk.XunitException(
                    $"Timed out after {limit.TotalSeconds:0} s waiting until {id} {what}.\n{await DescribeAsync(id)}");
            }

            await Task.Delay(Until.Interval);
        }
    }

    public Task<JsonObject> WaitForStatusAsync(string id, string status, TimeSpan? timeout = null) =>
        WaitAsync(id, t => Status(t) == status, $"is {status}", timeout);

    public async Task WaitForStatusAsync(IEnumerable<string> ids, string status, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        foreach (var id in ids)
        {
            await WaitForStatusAsync(id, status, timeout);
        }
    }

    /// <summary>The task and its events as JSON, for failure messages.</summary>
    public async Task<string> DescribeAsync(string id)
    {
        try
        {
            using var task = await Http.GetAsync(new Uri($"/api/tasks/{Uri.EscapeDataString(id)}", UriKind.Relative));
            using var events = await Http.GetAsync(new Uri($"/api/tasks/{Uri.EscapeDataString(id)}/events", UriKind.Relative));
            return $"task {id}: {await task.Content.ReadAsStringAsync()}\nevents: {await events.Content.ReadAsStringAsync()}";
        }
        catch (HttpRequestException ex)
        {
            return $"task {id}: could not be read ({ex.Message})";
        }
    }

    public static string Status(JsonObject task) => (string)task["status"]!;

    public static DateTimeOffset Time(JsonNode? node) =>
        DateTimeOffset.Parse((string)node!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <summary>An RFC 3339 UTC time with milliseconds, as the API writes them.</summary>
    public static string Rfc3339(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Now, truncated to the millisecond (the store's precision).</summary>
    public static DateTimeOffset NowMs() =>
        DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            await _factory.DisposeAsync();
        }
        catch (Exception ex) when (IsDoubleStop(ex))
        {
            // WebApplicationFactory stops a minimal-hosting app twice at once (its own StopAsync and
            // the app's Run returning, which then disposes the services; dotnet/aspnetcore#40271),
            // so a hosted service's StopAsync may find the store already closed. Not the product's
            // shutdown path, which stops once.
        }

        await WaitForLockReleaseAsync(DatabasePath + ".lock");
        if (_ownedFolder is not null)
        {
            DeleteFolder(_ownedFolder);
        }
    }

    private static bool IsDoubleStop(Exception exception) => exception switch
    {
        AggregateException aggregate => aggregate.InnerExceptions.All(IsDoubleStop),
        ObjectDisposedException => true,
        InvalidOperationException invalid => invalid.Message.StartsWith("The store is not open", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>The store holds an exclusive lock on this file while open; once it can be taken here,
    /// the store is closed and the next scheduler may open the same database.</summary>
    private static async Task WaitForLockReleaseAsync(string lockPath)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (File.Exists(lockPath))
        {
            try
            {
                await using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return;
            }
            catch (IOException) when (clock.Elapsed < Until.DefaultTimeout)
            {
                await Task.Delay(Until.Interval);
            }
        }
    }

    private sealed class Factory(string databasePath, IReadOnlyDictionary<string, string> settings, Action<IServiceCollection>? services)
        : WebApplicationFactory<Program>
    {
        public string DatabasePath { get; } = databasePath;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("Storage:DatabaseUrl", DatabasePath);
            builder.UseSetting("Logging:LogLevel:Default", "Warning");
            // A test host stops with tasks still running; they are handed back, no need to wait long.
            builder.UseSetting("Silo:ShutdownGracePeriod", "00:00:01");
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }

            if (services is not null)
            {
                builder.ConfigureTestServices(services);
            }
        }
    }
}

/// <summary>Waits on a condition, polling every 25 ms, and fails with the last state seen.</summary>
public static class Until
{
    public static readonly TimeSpan DefaultTimeout = Poll.DefaultTimeout;
    public static readonly TimeSpan Interval = Poll.Interval;

    public static Task<T> TrueAsync<T>(string what, Func<Task<T>> probe, Func<T, bool> done, Func<T, string> describe, TimeSpan? timeout = null) =>
        Poll.UntilAsync(what, probe, done, describe, timeout);

    /// <summary>Waits for a task (a handler's signal) without a fixed sleep: fails after the timeout.</summary>
    public static async Task SignalAsync(Task signal, string what, Func<Task<string>>? describe = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(signal);
        var limit = timeout ?? DefaultTimeout;
        if (await Task.WhenAny(signal, Task.Delay(limit)) != signal)
        {
            var state = describe is null ? "" : " " + await describe();
            throw new Xunit.Sdk.XunitException($"Timed out after {limit.TotalSeconds:0} s waiting until {what}.{state}");
        }

        await signal;
    }

    /// <summary>Waits until the wall clock has passed <paramref name="time"/> (a condition on the clock, polled).</summary>
    public static async Task PassedAsync(DateTimeOffset time)
    {
        while (DateTimeOffset.UtcNow <= time)
        {
            await Task.Delay(Interval);
        }
    }
}
