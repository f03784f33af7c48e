using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansScheduler.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests;

/// <summary>Issue 2's crash test on the real server process: SIGKILL while tasks run, restart on the
/// same database and port, and every acknowledged task ends COMPLETED with the killed attempts
/// counted. Each test has its own temp folder, database and free port.</summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper _log;
    private readonly string _folder;
    private readonly ServerProcess _server;

    public CrashRecoveryTests(ITestOutputHelper log)
    {
        _log = log;
        _folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-e2e", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _server = new ServerProcess(_folder, Path.Combine(_folder, "data", "scheduler.db"), ServerProcess.FreePort());
    }

    [Fact]
    public async Task A_sigkill_while_tasks_run_loses_nothing_and_counts_the_killed_attempts()
    {
        var acknowledged = new List<string>();
        HashSet<string> runningAtKill;

        _server.Start();
        using (var http = NewClient())
        {
            await http.WaitReadyAsync(_server, Patience);

            for (var i = 0; i < 9; i++)
            {
                // Long enough that a task seen RUNNING is still running when the kill follows, even on a
                // loaded machine (at 1.5 s one sometimes finished in between).
                acknowledged.Add(await http.SubmitAsync("/api/tasks", new { id = $"run-{i}", type = "e2e", duration_ms = 4000 }));
            }

            using (var batch = await http.Http.PostAsJsonAsync("/api/tasks/batch", new object[]
            {
                new { id = "dag-join", type = "e2e", duration_ms = 100, dependencies = new[] { "dag-left", "dag-right" } },
                new { id = "dag-left", type = "e2e", duration_ms = 100, dependencies = new[] { "dag-root" } },
                new { id = "dag-right", type = "e2e", duration_ms = 100, dependencies = new[] { "dag-root" } },
                new { id = "dag-root", type = "e2e", duration_ms = 100 },
            }))
            {
                var text = await batch.Content.ReadAsStringAsync();
                Assert.True(batch.StatusCode == HttpStatusCode.Created, $"batch answered {(int)batch.StatusCode}: {text}\n{_server.Output()}");
                acknowledged.AddRange(JsonNode.Parse(text)!.AsArray().Select(t => (string)t!["id"]!));
            }

            var running = await Poll.UntilAsync(
                "some tasks are RUNNING",
                () => http.ListAsync("/api/tasks?status=RUNNING&limit=1000"),
                tasks => tasks.Count > 0,
                tasks => $"{tasks.Count} RUNNING\n{_server.Output()}",
                Patience);
            runningAtKill = running.Select(t => (string)t["id"]!).ToHashSet();

            // Acknowledged a moment before the kill: it must survive it.
            acknowledged.Add(await http.SubmitAsync("/tasks", new { id = "late", type = "e2e", duration_ms = 100 }));
            _server.KillHard();
        }

        _log.WriteLine($"killed with RUNNING: {string.Join(", ", runningAtKill)}");
        var restartedAt = DateTimeOffset.UtcNow;
        var linesBeforeRestart = _server.Lines.Count;
        _server.Start();
        using var client = NewClient();
        await client.WaitReadyAsync(_server, Patience);
        var readyAt = DateTimeOffset.UtcNow;

        var all = await Poll.UntilAsync(
            "every acknowledged task is COMPLETED after the restart",
            () => client.ListAsync("/api/tasks?limit=1000"),
            tasks => acknowledged.All(id => tasks.Any(t => (string)t["id"]! == id && (string)t["status"]! == "COMPLETED")),
            tasks => $"{Describe(tasks)}; missing: [{string.Join(", ", acknowledged.Where(id => tasks.All(t => (string)t["id"]! != id)))}]\n{_server.Output()}",
            Patience);

        // Nothing lost, nothing doubled, nothing invented.
        Assert.Equal(acknowledged.Order(StringComparer.Ordinal), all.Select(t => (string)t["id"]!).Order(StringComparer.Ordinal));

        var reruns = new List<(string Id, double FromStart, double FromReady)>();
        foreach (var id in runningAtKill)
        {
            var task = await client.GetAsync($"/api/tasks/{id}");
            Assert.True((int)task["attempts"]! >= 2, $"{id} was RUNNING at the kill but shows {task["attempts"]} attempts: {task.ToJsonString()}");
            var events = await client.GetArrayAsync($"/api/tasks/{id}/events");
            var recovery = events.Select(e => e!.AsObject()).FirstOrDefault(e =>
                (string?)e["from"] == "RUNNING" && (int?)e["attempt"] == 1 && ((string?)e["reason"])?.Contains("lost", StringComparison.Ordinal) == true);
            Assert.True(recovery is not null, $"{id}'s events do not show the lost attempt 1 being recovered: {events.ToJsonString()}");
            Assert.Contains("attempt lost", (string)recovery!["reason"]!, StringComparison.Ordinal);
            var rerun = events.Select(e => e!.AsObject()).First(e => (string?)e["to"] == "RUNNING" && (int?)e["attempt"] == 2);
            var at = DateTimeOffset.Parse((string)rerun["at"]!, CultureInfo.InvariantCulture);
            reruns.Add((id, (at - restartedAt).TotalSeconds, (at - readyAt).TotalSeconds));
        }

        // Issue 9: the interrupted tasks re-run within 2 s of the restart, counted from the moment
        // the restarted process answers /health/ready (before that it is starting .NET, Orleans and
        // the database, which this machine's load decides).
        var worst = reruns.MaxBy(r => r.FromReady);
        var each = string.Join(", ", reruns.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Id} +{r.FromReady:0.00} s")));
        _log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESTART-TO-RERUN: ready {(readyAt - restartedAt).TotalSeconds:0.00} s after the start; {reruns.Count} interrupted tasks re-run {reruns.Min(r => r.FromReady):0.00}-{worst.FromReady:0.00} s after ready ({reruns.Min(r => r.FromStart):0.00}-{reruns.Max(r => r.FromStart):0.00} s after the start): {each}"));
        Assert.True(worst.FromReady <= 2.0, $"{worst.Id} re-ran {worst.FromReady:0.00} s after the restarted server was ready; the bound is 2 s");

        // The scheduler's own information lines are logged (LOG_LEVEL=info): recovery says why it ran.
        Assert.True(_server.Lines.Skip(linesBeforeRestart).Any(l => l.Contains("Recovering interrupted work: this silo started", StringComparison.Ordinal)),
            $"the restarted server did not log its recovery\n{_server.Output()}");

        await AssertDependencyOrderAsync(client, "dag-root", "dag-left", "dag-right");
        await AssertDependencyOrderAsync(client, "dag-left", "dag-join");
        await AssertDependencyOrderAsync(client, "dag-right", "dag-join");

        // The last slot goes back through the silo's batcher just after the last completion is written.
        var stats = await Poll.UntilAsync("every slot is given back", () => client.GetAsync("/api/stats"),
            s => (int)s["slots"]!["in_use"]! == 0, s => s.ToJsonString(), TimeSpan.FromSeconds(10));
        Assert.Equal(acknowledged.Count, (long)stats["counts"]!["COMPLETED"]!);
        Assert.Equal(acknowledged.Count, (long)stats["total"]!);
        Assert.Equal(0, (long)stats["counts"]!["RUNNING"]!);
    }

    [Fact]
    public async Task The_server_serves_seed_000_on_the_port_it_is_given()
    {
        _server.Start();
        using var http = NewClient();
        await http.WaitReadyAsync(_server, Patience);

        using var created = await http.Http.PostAsJsonAsync("/tasks", new { id = "task-A", type = "data_processing", duration_ms = 50, dependencies = Array.Empty<string>() });

        Assert.True(created.StatusCode == HttpStatusCode.Created, $"{(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}\n{_server.Output()}");
        Assert.Equal("""{"id":"task-A","status":"QUEUED"}""", await created.Content.ReadAsStringAsync());
        await Poll.UntilAsync(
            "task-A is COMPLETED",
            () => http.GetAsync("/tasks/task-A"),
            task => (string)task["status"]! == "COMPLETED",
            task => $"{task.ToJsonString()}\n{_server.Output()}",
            Patience);
        Assert.True(File.Exists(_server.DatabasePath), $"no database at DATABASE_URL {_server.DatabasePath}");
    }

    public void Dispose()
    {
        _server.Dispose();
        _log.WriteLine(_server.Output(400));
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup.
        }
    }

    private ApiClient NewClient() => new(_server.BaseAddress, () => _server.Output());

    private static async Task AssertDependencyOrderAsync(ApiClient http, string upstream, params string[] dependents)
    {
        var done = await http.GetAsync($"/api/tasks/{upstream}");
        var completedAt = DateTimeOffset.Parse((string)done["completed_at"]!, CultureInfo.InvariantCulture);
        foreach (var id in dependents)
        {
            var task = await http.GetAsync($"/api/tasks/{id}");
            var startedAt = DateTimeOffset.Parse((string)task["started_at"]!, CultureInfo.InvariantCulture);
            Assert.True(startedAt >= completedAt, $"{id} started at {startedAt:O}, before {upstream} completed at {completedAt:O}");
        }
    }

    private static string Describe(List<JsonObject> tasks) =>
        string.Join(", ", tasks.Select(t => $"{t["id"]}={t["status"]} (attempts {t["attempts"]})"));
}
