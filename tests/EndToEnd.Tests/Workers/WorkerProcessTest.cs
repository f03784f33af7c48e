using System.Text.Json.Nodes;
using OrleansScheduler.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Workers;

/// <summary>Issue 11 end to end: a real WebApi process (silo in-process, SQLite in a temp folder,
/// free port) and real external worker processes against it. Dumps every process's output into the
/// test log at the end, and kills whatever still runs.</summary>
public abstract class WorkerProcessTest : IDisposable
{
    /// <summary>The type the tests' workers claim: no silo has a handler for it.</summary>
    protected const string WorkType = "e2e-work";

    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly List<WorkerProcess> _workers = [];
    private ServerProcess? _server;
    private ApiClient? _api;

    protected WorkerProcessTest(ITestOutputHelper log)
    {
        Log = log;
        Folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-e2e", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    protected ITestOutputHelper Log { get; }

    protected string Folder { get; }

    protected ServerProcess Server => _server ?? throw new InvalidOperationException("Start the server first.");

    protected ApiClient Api => _api ?? throw new InvalidOperationException("Start the server first.");

    /// <summary>Starts the WebApi with <paramref name="settings"/> and waits until it is ready.</summary>
    protected async Task StartServerAsync(IReadOnlyDictionary<string, string> settings)
    {
        _server = ServerProcess.WebApi("server", Folder, Path.Combine(Folder, "scheduler.db"), ServerProcess.FreePort(), settings);
        _server.Start();
        _api = new ApiClient(_server.BaseAddress, Diagnostics);
        await _api.WaitReadyAsync(_server, Patience);
    }

    /// <summary>Starts the reference worker <paramref name="id"/> and waits until it registered.</summary>
    protected async Task<WorkerProcess> StartWorkerAsync(string id, params string[] arguments)
    {
        var worker = WorkerProcess.Reference(id, Server.BaseAddress, arguments);
        _workers.Add(worker);
        await worker.WaitForLineAsync("registered", l => l.Contains($" registered {id} ", StringComparison.Ordinal), Patience);
        return worker;
    }

    /// <summary>Any program as a worker (already started by <paramref name="start"/>).</summary>
    protected WorkerProcess Track(WorkerProcess worker)
    {
        _workers.Add(worker);
        return worker;
    }

    /// <summary>The task's history, in order.</summary>
    protected async Task<List<JsonObject>> EventsAsync(string id) =>
        (await Api.GetArrayAsync($"/api/tasks/{id}/events")).Select(e => e!.AsObject()).ToList();

    protected static int CompletedTransitions(List<JsonObject> events) =>
        events.Count(e => (string?)e["to"] == "COMPLETED");

    protected static string Describe(List<JsonObject> events) =>
        string.Join("; ", events.Select(e => $"{e["from"]}->{e["to"]} {e["silo_id"]} #{e["attempt"]} {e["reason"]}"));

    /// <summary>Waits until every task in <paramref name="ids"/> is COMPLETED.</summary>
    protected async Task<List<JsonObject>> WaitAllCompletedAsync(IReadOnlyCollection<string> ids) =>
        await Poll.UntilAsync(
            $"all {ids.Count} tasks are COMPLETED",
            async () =>
            {
                var tasks = new List<JsonObject>();
                foreach (var id in ids)
                {
                    tasks.Add(await Api.GetAsync($"/api/tasks/{id}"));
                }

                return tasks;
            },
            tasks => tasks.All(t => (string?)t["status"] == "COMPLETED"),
            tasks => string.Join(", ", tasks.Select(t => $"{t["id"]} {t["status"]} on {t["worker_id"]}")) + "\n" + Diagnostics(),
            Patience);

    protected string Diagnostics() =>
        string.Join(Environment.NewLine, new[] { _server?.Output() ?? "" }.Concat(_workers.Select(w => w.Output())));

    public void Dispose()
    {
        foreach (var worker in _workers)
        {
            worker.Dispose();
            Log.WriteLine(worker.Output(300));
        }

        _api?.Dispose();
        if (_server is not null)
        {
            _server.Dispose();
            Log.WriteLine(_server.Output(200));
        }

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a process that is going away: the temp folder is left behind.
        }

        GC.SuppressFinalize(this);
    }
}
