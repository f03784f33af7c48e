using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Xunit.Abstractions;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>Issue 12: generated requests, valid ones mutated at random and hostile query strings and
/// ids, against every endpoint that takes a body, a query or an id. For every case: the answer is 2xx,
/// or 4xx problem+json naming a field; a 4xx stores nothing (the task count and the ids are
/// unchanged); a 2xx stores exactly what it answered; the server logs no error. The tests in this
/// class share one server and run one after another, each ending with a sweep of the whole listing.
/// Replay with PROPERTY_SEED=... (printed on failure); PROPERTY_CASES=n runs n cases per test.</summary>
public sealed class MalformedRequestProperties(PropertyApp app, ITestOutputHelper output) : IClassFixture<PropertyApp>
{
    [Fact]
    public async Task Submitting_one_task()
    {
        await PropertyCheck.RunAsync(output, "POST /api/tasks", 1, 1200, RequestGen.SubmitTask, async request =>
        {
            var before = await TotalAsync();
            var answer = await Answer.SendAsync(app, request);
            if (answer.IsSuccess)
            {
                Assert.Equal(HttpStatusCode.Created, answer.Status);
                var id = (string)JsonNode.Parse(answer.Text)!["id"]!;
                Assert.True(answer.Headers.ContainsKey("Location"), $"a 201 without Location: {answer}");
                await AcknowledgeAsync([id], before);
                using var sent = JsonDocument.Parse(request.Body);
                StoredTask.AssertMatches(sent.RootElement, await GetAsync(id), id);
            }
            else
            {
                await AssertNothingStoredAsync(before, IdsIn(request.Body, single: true));
            }
        });
        output.WriteLine("Answers: " + app.TakeAnswers());
        await app.AssertStoredIdsAsync();
    }

    [Fact]
    public async Task Submitting_a_batch()
    {
        await PropertyCheck.RunAsync(output, "POST /api/tasks/batch", 2, 450, RequestGen.SubmitBatch, async request =>
        {
            var before = await TotalAsync();
            var answer = await Answer.SendAsync(app, request);
            if (answer.IsSuccess)
            {
                Assert.Equal(HttpStatusCode.Created, answer.Status);
                var answered = JsonNode.Parse(answer.Text)!.AsArray().Select(t => (string)t!["id"]!).ToList();
                await AcknowledgeAsync(answered, before);
                using var sent = JsonDocument.Parse(request.Body);
                if (sent.RootElement.ValueKind == JsonValueKind.Object)
                {
                    Assert.Equal(["tasks"], sent.RootElement.EnumerateObject().Select(p => p.Name));
                }

                var tasks = sent.RootElement.ValueKind == JsonValueKind.Array ? sent.RootElement : sent.RootElement.GetProperty("tasks");
                Assert.Equal(tasks.GetArrayLength(), answered.Count);
                var unclaimed = new List<string>(answered);
                var withoutId = new List<JsonElement>();
                foreach (var task in tasks.EnumerateArray())
                {
                    var id = task.TryGetProperty("id", out var given) || task.TryGetProperty("task_id", out given) ? given.GetString() : null;
                    if (id is null)
                    {
                        withoutId.Add(task);
                        continue;
                    }

                    Assert.Contains(id, unclaimed);
                    unclaimed.Remove(id);
                    StoredTask.AssertMatches(task, await GetAsync(id), id);
                }

                // A task sent without an id got a generated one: some answered id not claimed yet.
                foreach (var task in withoutId)
                {
                    string? match = null;
                    foreach (var candidate in unclaimed)
                    {
                        if (StoredTask.Matches(task, await GetAsync(candidate), candidate))
                        {
                            match = candidate;
                            break;
                        }
                    }

                    Assert.True(match is not null, $"no answered id [{string.Join(", ", unclaimed)}] stores the task sent without an id: {task.GetRawText()}");
                    unclaimed.Remove(match!);
                }
            }
            else
            {
                await AssertNothingStoredAsync(before, IdsIn(request.Body, single: false));
                if (answer.Status != HttpStatusCode.UnsupportedMediaType && TaskCount(request.Body) > PropertyApp.MaxBatchTasks)
                {
                    Assert.True(answer.Status == HttpStatusCode.RequestEntityTooLarge, $"a batch over the limit of {PropertyApp.MaxBatchTasks} tasks answered {answer}");
                }
            }
        });
        output.WriteLine("Answers: " + app.TakeAnswers());
        await app.AssertStoredIdsAsync();
    }

    [Fact]
    public async Task Listing_tasks_with_any_query()
    {
        await PropertyCheck.RunAsync(output, "GET /api/tasks?...", 3, 600, RequestGen.ListTasks, async request =>
        {
            var before = await TotalAsync();
            var answer = await Answer.SendAsync(app, request);
            var query = QueryHelpers.ParseQuery(request.Query);
            if (answer.IsSuccess)
            {
                Assert.Equal(HttpStatusCode.OK, answer.Status);
                var items = JsonNode.Parse(answer.Text)!.AsArray();
                var limit = Single(query, "limit") is { } l && int.TryParse(l, out var n) ? n : 100;
                Assert.True(items.Count <= limit, $"{items.Count} items for limit {limit}");
                if (Single(query, "type") is { } type)
                {
                    Assert.All(items, i => Assert.Equal(type, (string)i!["type"]!));
                }

                if (Single(query, "status") is { } status)
                {
                    var wanted = status.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                        .SelectMany(s => s.Equals("pending", StringComparison.OrdinalIgnoreCase) ? ["WAITING", "SCHEDULED", "QUEUED"] : new[] { s.ToUpperInvariant() })
                        .ToHashSet();
                    Assert.All(items, i => Assert.Contains((string)i!["status"]!, wanted));
                }

                if (answer.Headers.TryGetValue("Link", out var link))
                {
                    var next = link[(link.IndexOf('<', StringComparison.Ordinal) + 1)..link.IndexOf('>', StringComparison.Ordinal)];
                    var following = await Answer.SendAsync(app, new HttpCase("GET", next));
                    Assert.True(following.Status == HttpStatusCode.OK, $"the Link header's next page {next} answered {following}");
                }
            }
            else
            {
                Assert.Contains(answer.ErrorFields(), f => f is "status" or "type" or "limit" or "cursor" or "offset" or "order");
            }

            Assert.Equal(before, await TotalAsync());
        });
        output.WriteLine("Answers: " + app.TakeAnswers());
    }

    [Fact]
    public async Task Submitting_a_job_with_any_query()
    {
        await PropertyCheck.RunAsync(output, "POST /jobs?...", 4, 300, RequestGen.SubmitJob, async request =>
        {
            var before = await TotalAsync();
            var answer = await Answer.SendAsync(app, request);
            var query = QueryHelpers.ParseQuery(request.Query);
            if (answer.IsSuccess)
            {
                Assert.Equal(HttpStatusCode.Created, answer.Status);
                var id = (string)JsonNode.Parse(answer.Text)!["id"]!;
                await AcknowledgeAsync([id], before);
                var stored = await GetAsync(id);
                Assert.Equal(query["task_type"].ToString(), (string)stored["type"]!);
                Assert.Equal(query.TryGetValue("payload", out var payload) ? payload.ToString() : null, stored["payload"]?.GetValue<string>());
            }
            else
            {
                Assert.Contains(answer.ErrorFields(), f => f is "task_type" or "payload");
                Assert.Equal(before, await TotalAsync());
            }
        });
        output.WriteLine("Answers: " + app.TakeAnswers());
        await app.AssertStoredIdsAsync();
    }

    [Fact]
    public async Task Addressing_a_task_by_any_id()
    {
        await PropertyCheck.RunAsync(output, "GET|POST /api/tasks/{id}...", 5, 450, RequestGen.ById, async generated =>
        {
            var request = RequestGen.Resolve(generated, [.. app.Ids.Order(StringComparer.Ordinal)]);
            var before = await TotalAsync();
            var answer = await Answer.SendAsync(app, request);
            if (answer.IsSuccess)
            {
                Assert.Equal(HttpStatusCode.OK, answer.Status);
                var body = JsonNode.Parse(answer.Text)!;
                if (body is JsonObject task)
                {
                    var id = (string)task["id"]!;
                    Assert.Contains(id, app.Ids);
                    if (request.Path.EndsWith("/cancel", StringComparison.Ordinal))
                    {
                        // CANCELLED is final until a retry, and none runs now: it must be what is stored.
                        Assert.Equal("CANCELLED", (string)task["status"]!);
                        Assert.Equal("CANCELLED", (string)(await GetAsync(id))["status"]!);
                    }
                }
            }
            else
            {
                Assert.True(answer.Status is HttpStatusCode.NotFound or HttpStatusCode.Conflict, $"answered {answer}");
            }

            Assert.Equal(before, await TotalAsync());
        });
        output.WriteLine("Answers: " + app.TakeAnswers());
    }

    /// <summary>Issue 11: a registration is 201 and registers exactly what it answered (the list
    /// shows it), or a 4xx naming a field that registers nothing.</summary>
    [Fact]
    public async Task Registering_a_worker()
    {
        var registered = new HashSet<string>(StringComparer.Ordinal);
        await PropertyCheck.RunAsync(output, "POST /api/workers/register", 7, 300, RequestGen.RegisterWorker, async request =>
        {
            var answer = await Answer.SendAsync(app, request);
            var api = await app.StartAsync();
            if (answer.IsSuccess)
            {
                Assert.Equal(HttpStatusCode.Created, answer.Status);
                var worker = JsonNode.Parse(answer.Text)!.AsObject();
                var id = (string)worker["worker_id"]!;
                registered.Add(id);
                using var sent = JsonDocument.Parse(request.Body);
                var capabilities = sent.RootElement.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()!).Distinct(StringComparer.Ordinal).ToList();
                var listed = await api.GetAsync($"/api/workers/{Uri.EscapeDataString(id)}");
                Assert.Equal(capabilities, listed["capabilities"]!.AsArray().Select(c => (string)c!));
                Assert.Equal((int)worker["max_concurrent_tasks"]!, (int)listed["capacity"]!);
                Assert.Equal(sent.RootElement.TryGetProperty("max_concurrent_tasks", out var max) ? max.GetInt32() : 1, (int)listed["capacity"]!);
            }
            else if (WorkerIdIn(request.Body) is { } id && IsId(id) && !registered.Contains(id))
            {
                using var lookup = await api.Http.GetAsync(new Uri($"/api/workers/{Uri.EscapeDataString(id)}", UriKind.Relative));
                Assert.True(lookup.StatusCode == HttpStatusCode.NotFound, $"'{id}' was registered by a rejected request: {answer}");
            }
        });
        output.WriteLine("Answers: " + app.TakeAnswers());
    }

    private static string? WorkerIdIn(byte[]? body)
    {
        try
        {
            using var document = JsonDocument.Parse(body ?? []);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("worker_id", out var id) && id.ValueKind == JsonValueKind.String
                ? id.GetString()
                : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    [Fact]
    public async Task Reading_stats_with_any_query()
    {
        await PropertyCheck.RunAsync(output, "GET /api/stats?...", 6, 100, RequestGen.Stats, async request =>
        {
            var answer = await Answer.SendAsync(app, request);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.NotNull(JsonNode.Parse(answer.Text));
        });
        output.WriteLine("Answers: " + app.TakeAnswers());
    }

    private async Task<long> TotalAsync() => await (await app.StartAsync()).TotalAsync();

    private async Task<JsonObject> GetAsync(string id) => await (await app.StartAsync()).GetTaskAsync(id);

    /// <summary>A 2xx: exactly the answered ids are new, and the count grew by as many.</summary>
    private async Task AcknowledgeAsync(IReadOnlyList<string> ids, long before)
    {
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var id in ids)
        {
            Assert.True(app.Ids.Add(id), $"answered 2xx for '{id}', which was already stored");
        }

        Assert.Equal(before + ids.Count, await TotalAsync());
    }

    /// <summary>A 4xx: the count is unchanged and no id of the request that was not stored before is now.</summary>
    private async Task AssertNothingStoredAsync(long before, IEnumerable<string> ids)
    {
        Assert.Equal(before, await TotalAsync());
        foreach (var id in ids.Where(i => IsId(i) && !app.Ids.Contains(i)).Distinct().Take(10))
        {
            Assert.True(await app.StatusOfAsync(id) == HttpStatusCode.NotFound, $"'{id}' was stored by a rejected request");
        }
    }

    /// <summary>What the README calls an id: 1-128 letters, digits, '-', '_', '.', ':'.</summary>
    private static bool IsId(string id) =>
        id.Length is > 0 and <= 128 && id.Trim('.').Length > 0 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    /// <summary>How many tasks a well-formed batch holds, or -1.</summary>
    private static int TaskCount(byte[]? body)
    {
        try
        {
            using var document = JsonDocument.Parse(body ?? []);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("tasks", out var inner))
            {
                root = inner;
            }

            return root.ValueKind == JsonValueKind.Array ? root.GetArrayLength() : -1;
        }
        catch (JsonException)
        {
            return -1;
        }
    }

    /// <summary>The task ids a body names, as far as it can be read.</summary>
    private static List<string> IdsIn(byte[]? body, bool single)
    {
        try
        {
            using var document = JsonDocument.Parse(body ?? []);
            var root = document.RootElement;
            var tasks = single ? [root]
                : root.ValueKind == JsonValueKind.Array ? root.EnumerateArray().ToList()
                : root.ValueKind == JsonValueKind.Object && root.TryGetProperty("tasks", out var inner) && inner.ValueKind == JsonValueKind.Array ? inner.EnumerateArray().ToList()
                : [];
            var ids = new List<string>();
            foreach (var task in tasks.Where(t => t.ValueKind == JsonValueKind.Object))
            {
                foreach (var name in new[] { "id", "task_id" })
                {
                    if (task.TryGetProperty(name, out var id) && id.ValueKind == JsonValueKind.String)
                    {
                        ids.Add(id.GetString()!);
                    }
                }
            }

            return ids;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return []; // Not readable JSON: the task count alone says nothing was stored.
        }
    }

    private static string? Single(Dictionary<string, Microsoft.Extensions.Primitives.StringValues> query, string name) =>
        query.TryGetValue(name, out var values) && values.Count == 1 ? values[0] : null;
}
