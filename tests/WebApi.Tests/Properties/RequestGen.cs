using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using Fields = System.Collections.Generic.List<System.Collections.Generic.KeyValuePair<string, System.Text.Json.Nodes.JsonNode?>>;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>Whole requests for each endpoint: bodies built from mutated tasks and then, now and then,
/// damaged on the wire; query strings and path ids from plain to hostile.</summary>
public static class RequestGen
{
    private static readonly Gen<int> MutationCount = Gen.Frequency((2, Gen.Const(0)), (5, Gen.Const(1)), (3, Gen.Const(2)), (2, Gen.Const(3)));

    private static readonly Gen<List<Mutation>> Mutations = MutationCount.SelectMany(n => Mutation.Any.List[n, n]);

    /// <summary>Damage done to the bytes after they are written.</summary>
    private sealed record Wire(string Name, string? ContentType, Func<byte[], byte[]> Apply);

    private static readonly Gen<Wire> WireDamage = Gen.Frequency(
        (24, Gen.Const(new Wire("", "application/json", b => b))),
        (3, Gen.Double[0, 1].Select(f => new Wire($"cut at {f:P0}", "application/json", b => b[..(int)(b.Length * f)]))),
        (1, Gen.Double[0, 1].Select(Gen.Byte, (f, x) => new Wire($"byte 0x{x:X2} inserted at {f:P0}", "application/json", b => [.. b[..(int)(b.Length * f)], x, .. b[(int)(b.Length * f)..]]))),
        (1, Gen.OneOf("text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "application/merge-patch+json", "application/json; charset=latin1")
            .Select(type => new Wire($"Content-Type {type}", type, b => b))),
        (1, Gen.Const(new Wire("no Content-Type", null, b => b))),
        (1, Gen.Const(new Wire("empty body", "application/json", _ => []))),
        (1, Gen.OneOf("[{0}]", "\"{0}\"", "42", "null", "{0}{0}", "{0} trailing", "\uFEFF{0}", "  \n{0}\n  ")
            .Select(shape => new Wire($"body shaped {shape}", "application/json", b => Encoding.UTF8.GetBytes(string.Format(System.Globalization.CultureInfo.InvariantCulture, shape, Encoding.UTF8.GetString(b)))))));

    /// <summary>POST /api/tasks (or /tasks, or /tasks/) with one task, mutated.</summary>
    public static readonly Gen<HttpCase> SubmitTask = Gen.Select(
            Gen.OneOf("/api/tasks", "/tasks", "/tasks/", "/api/tasks/"), TaskGen.Valid([]), Mutations, JsonGen.Encoder, WireDamage)
        .Select((path, fields, mutations, encoder, wire) =>
        {
            foreach (var mutation in mutations)
            {
                mutation.Apply(fields);
            }

            var body = wire.Apply(JsonGen.Write(fields, encoder));
            return new HttpCase("POST", path, wire.ContentType, body, Note(mutations.Select(m => m.Name).Append(wire.Name)));
        });

    /// <summary>POST /api/tasks/batch: a DAG of 1-6 tasks (dependencies inside the batch and on base
    /// tasks), some mutated, as an array or in {"tasks": [...]}; or past the limit, or empty.</summary>
    public static readonly Gen<HttpCase> SubmitBatch = Gen.Select(
            TaskGen.Id.Array[1, 6].Select(ids => ids.Distinct().ToArray()),
            Gen.Int[0, 99].Select(MutationCount, (k, n) => (k, n)).SelectMany(t => Mutation.Any.List[t.n, t.n].Select(m => (t.k, m))),
            Gen.Frequency((6, Gen.Const("array")), (3, Gen.Const("wrapper")), (1, Gen.Const("wrapper+extra")), (1, Gen.Const("wrapper-misnamed")), (1, Gen.Const("over-limit")), (1, Gen.Const("empty")), (1, Gen.Const("repeated-id"))),
            JsonGen.Encoder,
            WireDamage)
        .SelectMany((ids, mutated, shape, encoder, wire) => TaskGen.All(ids.Select(id => TaskGen.Valid([.. ids.Where(other => other != id)])))
            .Select(tasks =>
            {
                for (var i = 0; i < tasks.Count; i++)
                {
                    tasks[i].RemoveAll(f => f.Key is "id" or "task_id");
                    tasks[i].Insert(0, KeyValuePair.Create("id", (JsonNode?)JsonValue.Create(ids[i])));
                }

                foreach (var mutation in mutated.m)
                {
                    mutation.Apply(tasks[mutated.k % tasks.Count]);
                }

                if (shape == "over-limit")
                {
                    tasks = [.. Enumerable.Range(0, PropertyApp.MaxBatchTasks + 1 + mutated.k % 5).Select(i => new Fields
                    {
                        KeyValuePair.Create("id", (JsonNode?)JsonValue.Create($"{ids[0]}-{i}")),
                        KeyValuePair.Create("type", (JsonNode?)JsonValue.Create("t")),
                    })];
                }
                else if (shape == "empty")
                {
                    tasks = [];
                }
                else if (shape == "repeated-id")
                {
                    tasks.Add([KeyValuePair.Create("id", (JsonNode?)JsonValue.Create(ids[0])), KeyValuePair.Create("type", (JsonNode?)JsonValue.Create("t"))]);
                }

                var body = JsonGen.Write(writer => WriteBatch(writer, tasks, shape), encoder);
                var changes = mutated.m.Count == 0 ? "" : $"task #{mutated.k % Math.Max(1, tasks.Count)}: " + string.Join("; ", mutated.m.Select(m => m.Name));
                var note = Note([changes, shape, wire.Name]);
                return new HttpCase("POST", "/api/tasks/batch", wire.ContentType, wire.Apply(body), note);
            }));

    private static void WriteBatch(Utf8JsonWriter writer, List<Fields> tasks, string shape)
    {
        var wrapped = shape.StartsWith("wrapper", StringComparison.Ordinal);
        if (wrapped)
        {
            writer.WriteStartObject();
            writer.WritePropertyName(shape == "wrapper-misnamed" ? "Tasks" : "tasks");
        }

        writer.WriteStartArray();
        foreach (var task in tasks)
        {
            JsonGen.WriteObject(writer, task);
        }

        writer.WriteEndArray();
        if (wrapped)
        {
            if (shape == "wrapper+extra")
            {
                writer.WriteNumber("colour", 1);
            }

            writer.WriteEndObject();
        }
    }

    // ---- query strings and path ids ----

    private static readonly string[] RawEscapes = ["%FF", "%ED%A0%80", "%C0%80", "%C3", "%", "%%", "%2", "%zz", "+", "a+b", "%00", "%E2%80%A8", "%F0%9F%98%80", "%2C", "&", "="];

    private static readonly Gen<string> Escaped = Gen.Frequency(
        (3, JsonGen.Text.Select(Uri.EscapeDataString)),
        (2, Gen.OneOf(RawEscapes).List[1, 3].Select(parts => string.Concat(parts))),
        (1, Gen.Int[200, 6000].Select(n => new string('q', n))));

    private static readonly Gen<string> StatusValue = Gen.Frequency(
        (3, Gen.OneOf("QUEUED", "queued", "pending", "Pending", "RUNNING,COMPLETED", "COMPLETED, FAILED", "WAITING", "SCHEDULED", "CANCELLED", "UPSTREAM_FAILED", "upstream_failed", "FAILED")),
        (1, Gen.OneOf("", ",", " , ", "DONE", "QUEUED,DONE", "COMPLETED,,", "all", "null")));

    private static readonly Gen<string> NumberValue = Gen.OneOf(
        "0", "1", "2", "10", "50", "100", "1000", "1001", "-1", "+5", " 5", "5 ", "5.0", "1e3", "0x10", "2147483647", "2147483648",
        "9223372036854775807", "9223372036854775808", "1000000", "1000001", "007", "", "٣");

    private static readonly Gen<string> QueryPair = Gen.Frequency(
        (3, StatusValue.Select(v => "status=" + Uri.EscapeDataString(v))),
        (2, Gen.Frequency((3, Gen.OneOf("base", "etl", "t", "render")), (1, JsonGen.AnyString)).Select(v => "type=" + Uri.EscapeDataString(v))),
        (3, Gen.OneOf("limit", "offset", "cursor").Select(NumberValue, (name, v) => $"{name}={Uri.EscapeDataString(v)}")),
        (2, Gen.OneOf("oldest", "newest", "NEWEST", "desc", "", "random").Select(v => "order=" + v)),
        (2, Gen.OneOf("status", "type", "limit", "cursor", "offset", "order", "colour", "STATUS", "", "status[]").Select(Escaped, (name, v) => $"{name}={v}")),
        (1, Gen.OneOf("status", "limit", "order", "type", "cursor").Select(name => name)));

    private static readonly Gen<string> Query = QueryPair.List[0, 5].Select(pairs => pairs.Count == 0 ? "" : "?" + string.Join("&", pairs));

    /// <summary>GET /api/tasks (or /tasks) with a random query string.</summary>
    public static readonly Gen<HttpCase> ListTasks = Gen.OneOf("/api/tasks", "/tasks", "/api/tasks/").Select(Query, (path, query) => new HttpCase("GET", path + query));

    /// <summary>POST /jobs?task_type=..&amp;payload=.. (seed 002), sometimes with a body it ignores.</summary>
    public static readonly Gen<HttpCase> SubmitJob = Gen.Select(
            Gen.Frequency(
                (4, Gen.OneOf("test", "email", "etl").Select(v => "task_type=" + v)),
                (2, JsonGen.AnyString.Select(v => "task_type=" + Uri.EscapeDataString(v))),
                (1, Escaped.Select(v => "task_type=" + v)),
                (1, Gen.OneOf("", "task_type", "task_type=", "type=test", "task_type=a&task_type=b"))),
            Gen.Frequency(
                (2, Gen.Const("")),
                (3, JsonGen.AnyString.Select(v => "&payload=" + Uri.EscapeDataString(v))),
                (1, Escaped.Select(v => "&payload=" + v)),
                (1, Gen.OneOf("&payload", "&payload=", "&payload=a&payload=b", "&colour=1"))),
            Gen.Frequency((4, Gen.Const(() => (byte[]?)null)), (1, JsonGen.Text.Select(t => (byte[]?)Encoding.UTF8.GetBytes(t)))))
        .Select((type, payload, body) => new HttpCase("POST", "/jobs?" + type + payload, body is null ? null : "application/json", body));

    /// <summary>The endpoints addressed by an id in the path: the task, its events, cancel, retry.</summary>
    public static readonly Gen<HttpCase> ById = Gen.Select(
            Gen.Frequency(
                (3, Gen.Int[0, TaskGen.BaseTasks - 1].Select(TaskGen.BaseId)),
                (4, Gen.Int[0, 1_000_000].Select(KnownId)),
                (2, TaskGen.Id),
                (2, JsonGen.Text.Where(t => t.Trim('.').Length > 0 && !t.Contains('/', StringComparison.Ordinal) && !t.Contains('\0', StringComparison.Ordinal)).Select(Uri.EscapeDataString)),
                // Not %00: the in-process test host refuses a NUL in a path before the app sees it
                // (Kestrel answers 400 itself), so such a case tests the test host.
                // Never empty or only dots: such a path names no task but another route (or none).
                (1, Escaped.Where(e => e.Trim('.').Length > 0 && e is not ("%" or "%%" or "%2") && !e.Contains("%00", StringComparison.Ordinal)))),
            Gen.OneOf(
                ("GET", "/api/tasks/{0}"), ("GET", "/tasks/{0}"), ("GET", "/api/tasks/{0}/events"), ("GET", "/tasks/{0}/events"),
                ("POST", "/api/tasks/{0}/cancel"), ("POST", "/api/tasks/{0}/retry"), ("POST", "/tasks/{0}/cancel"), ("POST", "/tasks/{0}/retry")),
            Gen.Frequency((4, Gen.Const(() => (byte[]?)null)), (1, JsonGen.Text.Select(t => (byte[]?)Encoding.UTF8.GetBytes(t)))))
        .Select((id, route, body) => new HttpCase(route.Item1, string.Format(System.Globalization.CultureInfo.InvariantCulture, route.Item2, id), body is null ? null : "application/json", body));

    /// <summary>A placeholder for the k-th id the API has acknowledged so far (in ordinal order),
    /// filled in when the case runs: a generator cannot know which tasks earlier cases stored.</summary>
    public static string KnownId(int k) => $"{{known:{k}}}";

    /// <summary>The case with its placeholders filled in from <paramref name="known"/>.</summary>
    public static HttpCase Resolve(HttpCase request, IReadOnlyList<string> known)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(known);
        var target = System.Text.RegularExpressions.Regex.Replace(request.Target, @"\{known:(\d+)\}", m =>
            known.Count == 0 ? "none" : Uri.EscapeDataString(known[int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) % known.Count]));
        return request with { Target = target };
    }

    /// <summary>The monitoring endpoints, with queries they do not take.</summary>
    public static readonly Gen<HttpCase> Stats = Gen.OneOf("/api/stats", "/stats", "/api/workers").Select(Query, (path, query) => new HttpCase("GET", path + query));

    /// <summary>A valid external worker's registration (issue 11): a fresh id, 1-3 capabilities, a
    /// capacity, and now and then a system_info.</summary>
    private static readonly Gen<Fields> Registration = Gen.Select(
            Gen.Int[0, 9_999_999], Gen.OneOf("processing", "analysis", "etl", "render:thumb", "a").Array[1, 3], Gen.Int[1, 1000], Gen.Bool)
        .Select((n, capabilities, capacity, info) =>
        {
            var fields = new Fields
            {
                KeyValuePair.Create("worker_id", (JsonNode?)JsonValue.Create($"pw-{n}")),
                KeyValuePair.Create("capabilities", (JsonNode?)new JsonArray([.. capabilities.Select(c => (JsonNode?)JsonValue.Create(c))])),
                KeyValuePair.Create("max_concurrent_tasks", (JsonNode?)JsonValue.Create(capacity)),
            };
            if (info)
            {
                fields.Add(KeyValuePair.Create("system_info", (JsonNode?)new JsonObject { ["cpu_usage"] = 45.2, ["memory_usage"] = 67.8, ["disk_usage"] = 23.1 }));
            }

            return fields;
        });

    /// <summary>POST /api/workers/register with a registration, mutated as tasks are.</summary>
    public static readonly Gen<HttpCase> RegisterWorker = Gen.Select(Registration, Mutations, JsonGen.Encoder, WireDamage)
        .Select((fields, mutations, encoder, wire) =>
        {
            foreach (var mutation in mutations)
            {
                mutation.Apply(fields);
            }

            var body = wire.Apply(JsonGen.Write(fields, encoder));
            return new HttpCase("POST", "/api/workers/register", wire.ContentType, body, Note(mutations.Select(m => m.Name).Append(wire.Name)));
        });

    private static string? Note(IEnumerable<string> parts) =>
        string.Join("; ", parts.Where(p => p.Length > 0)) is { Length: > 0 } note ? note : null;
}
