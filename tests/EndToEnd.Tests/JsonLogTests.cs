using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansScheduler.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests;

/// <summary>Issue 10's logs, read from the real process's stdout: every line one JSON object with
/// the documented fields, and a request's trace id on every line of its task's story, through the
/// grain calls, the handler's execution on the executor and the completion that releases its
/// dependent, which then runs under its own request's trace.</summary>
public sealed class JsonLogTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper _log;
    private readonly string _folder;
    private readonly ServerProcess _server;

    public JsonLogTests(ITestOutputHelper log)
    {
        _log = log;
        _folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-e2e", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _server = ServerProcess.WebApi("webapi", _folder, Path.Combine(_folder, "scheduler.db"), ServerProcess.FreePort(), new Dictionary<string, string>
        {
            ["LOG_LEVEL"] = "debug",
        });
    }

    [Fact]
    public async Task Every_line_is_json_and_a_tasks_story_carries_its_requests_trace_id_across_the_release_of_its_dependent()
    {
        _server.Start();
        using var http = new ApiClient(_server.BaseAddress, () => _server.Output());
        await http.WaitReadyAsync(_server, Patience);

        // Upstream with a W3C traceparent; the dependent with only an X-Correlation-Id.
        var upstreamTrace = ActivityTraceId.CreateRandom().ToHexString();
        using var upstream = new HttpRequestMessage(HttpMethod.Post, "/api/tasks")
        {
            Content = JsonContent.Create(new { id = "log-up", type = "sim", duration_ms = 300 }),
        };
        upstream.Headers.Add("traceparent", $"00-{upstreamTrace}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using (var response = await http.Http.SendAsync(upstream))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal(upstreamTrace, response.Headers.GetValues("X-Trace-Id").Single());
        }

        using var dependent = new HttpRequestMessage(HttpMethod.Post, "/tasks")
        {
            Content = JsonContent.Create(new { id = "log-down", type = "sim", duration_ms = 10, dependencies = new[] { "log-up" } }),
        };
        dependent.Headers.Add("X-Correlation-Id", "order-42");
        string dependentTrace;
        using (var response = await http.Http.SendAsync(dependent))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal("order-42", response.Headers.GetValues("X-Correlation-Id").Single());
            dependentTrace = response.Headers.GetValues("X-Trace-Id").Single();
        }

        Assert.Matches("^[0-9a-f]{32}$", dependentTrace);
        Assert.NotEqual(upstreamTrace, dependentTrace);

        await Poll.UntilAsync(
            "log-down is COMPLETED and its story is logged",
            async () => (Status: (string?)(await http.GetAsync("/api/tasks/log-down"))["status"], Lines: Parse(_server.Lines)),
            s => s.Status == "COMPLETED" && Story(s.Lines, "log-down").Any(l => To(l) == "COMPLETED"),
            s => $"log-down {s.Status}\n{_server.Output(60)}",
            Patience);

        var lines = Parse(_server.Lines);
        foreach (var line in lines)
        {
            foreach (var field in new[] { "time", "level", "category", "message" })
            {
                Assert.True(line[field] is JsonValue, $"line without \"{field}\": {line.ToJsonString()}");
            }
        }

        var up = Story(lines, "log-up");
        var down = Story(lines, "log-down");
        _log.WriteLine(string.Join("\n", up.Concat(down).Select(l => l.ToJsonString())));

        // The upstream's story, from its request to its completion, all under its trace id:
        // submission, start, the executor's run of the handler, completion.
        AssertTraced(up, upstreamTrace, "new", "QUEUED");
        AssertTraced(up, upstreamTrace, "QUEUED", "RUNNING");
        AssertTraced(up, upstreamTrace, "RUNNING", "COMPLETED");
        Assert.Contains(up, l => (string?)l["category"] == "OrleansScheduler.Silo.Executor" && Trace(l) == upstreamTrace);

        // The dependent: submitted under its own trace; told of the upstream's completion in the
        // upstream's trace (that line is the upstream's story); released and run under its own.
        AssertTraced(down, dependentTrace, "new", "WAITING");
        var told = down.FirstOrDefault(l => (string?)l["event"] == "LogUpstreamCompleted");
        Assert.True(told is not null && Trace(told) == upstreamTrace && (string?)told["fields"]?["Upstream"] == "log-up",
            $"the dependent's release is not logged in the upstream's trace {upstreamTrace}: {told?.ToJsonString()}");
        AssertTraced(down, dependentTrace, "WAITING", "QUEUED");
        AssertTraced(down, dependentTrace, "QUEUED", "RUNNING");
        AssertTraced(down, dependentTrace, "RUNNING", "COMPLETED");
        Assert.Contains(down, l => (string?)l["category"] == "OrleansScheduler.Silo.Executor" && Trace(l) == dependentTrace);

        // And the silo on every line of the stories.
        Assert.All(up.Concat(down), l => Assert.False(string.IsNullOrEmpty((string?)l["silo"]), l.ToJsonString()));
    }

    public void Dispose()
    {
        _server.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }

    private static void AssertTraced(List<JsonObject> story, string trace, string from, string to)
    {
        var line = story.FirstOrDefault(l => From(l) == from && To(l) == to);
        Assert.True(line is not null, $"no {from} -> {to} line in:\n{string.Join("\n", story.Select(l => l.ToJsonString()))}");
        Assert.True(Trace(line) == trace, $"{from} -> {to} carries trace {Trace(line)}, not {trace}: {line.ToJsonString()}");
    }

    private static List<JsonObject> Story(List<JsonObject> lines, string taskId) =>
        lines.Where(l => (string?)l["task_id"] == taskId).ToList();

    private static string? Trace(JsonObject line) => (string?)line["trace_id"];

    private static string? From(JsonObject line) => (string?)line["fields"]?["From"];

    private static string? To(JsonObject line) => (string?)line["fields"]?["To"];

    /// <summary>The process's stdout lines (ServerProcess prefixes each with "[generation stream
    /// time] "), each of which must be one JSON object.</summary>
    private static List<JsonObject> Parse(IReadOnlyList<string> recorded)
    {
        var lines = new List<JsonObject>();
        foreach (var entry in recorded.Where(l => l.Contains(" out ", StringComparison.Ordinal)))
        {
            var text = entry[(entry.IndexOf("] ", StringComparison.Ordinal) + 2)..];
            try
            {
                lines.Add(JsonNode.Parse(text)!.AsObject());
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                Assert.Fail($"not one JSON object per line: {text}\n({ex.Message})");
            }
        }

        return lines;
    }
}
