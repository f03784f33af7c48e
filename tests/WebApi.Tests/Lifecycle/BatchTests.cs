using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 7: POST /api/tasks/batch takes a whole DAG, all or nothing.</summary>
public sealed class BatchTests
{
    [Fact]
    public async Task A_batch_with_dependencies_in_any_order_and_on_existing_tasks_is_201_with_every_id_and_runs()
    {
        await using var scheduler = Start();
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "existing", ["type"] = "etl" });

        // Listed with dependents before their dependencies.
        using var response = await scheduler.PostAsync("/api/tasks/batch", """
            [
              {"id": "report", "type": "etl", "dependencies": ["transform", "existing"]},
              {"id": "transform", "type": "etl", "dependencies": ["extract-a", "extract-b"]},
              {"id": "extract-b", "type": "etl", "dependencies": ["extract-a"]},
              {"id": "extract-a", "type": "etl"}
            ]
            """);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var submitted = JsonNode.Parse(text)!.AsArray();
        Assert.Equal(
            ["extract-a", "extract-b", "report", "transform"],
            submitted.Select(s => (string)s!["id"]!).Order(StringComparer.Ordinal));
        Assert.All(submitted, s => Assert.Contains((string)s!["status"]!, new[] { "QUEUED", "WAITING" }));
        Assert.Equal("WAITING", (string)submitted.Single(s => (string)s!["id"]! == "report")!["status"]!);

        string[] all = ["extract-a", "extract-b", "transform", "report"];
        await scheduler.WaitForStatusAsync(all, "COMPLETED");
        var report = await scheduler.GetAsync("report");
        Assert.Equal(["existing", "transform"], report["dependencies"]!.AsArray().Select(d => (string)d!).Order(StringComparer.Ordinal));
        var transformDone = Time((await scheduler.GetAsync("transform"))["completed_at"]);
        Assert.True(Time(report["started_at"]) >= transformDone, report.ToJsonString());

        // The {"tasks": [...]} form is accepted too.
        using var wrapped = await scheduler.PostAsync("/api/tasks/batch", """{"tasks": [{"id": "wrapped", "type": "etl", "dependencies": ["report"]}]}""");
        Assert.True(wrapped.StatusCode == HttpStatusCode.Created, await wrapped.Content.ReadAsStringAsync());
        await scheduler.WaitForStatusAsync("wrapped", "COMPLETED");
    }

    [Fact]
    public async Task A_cycle_is_400_with_the_cycle_as_a_path_of_ids_and_nothing_is_written()
    {
        await using var scheduler = Start();
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "existing", ["type"] = "etl" });
        var dependencies = new Dictionary<string, string[]>
        {
            ["tail"] = ["x"],
            ["free"] = ["existing"],
            ["x"] = ["z"],
            ["y"] = ["x", "existing"],
            ["z"] = ["y"],
        };
        var batch = new JsonArray(dependencies.Select(d => (JsonNode)new JsonObject
        {
            ["id"] = d.Key,
            ["type"] = "etl",
            ["dependencies"] = new JsonArray(d.Value.Select(v => (JsonNode)v).ToArray()),
        }).ToArray());

        using var response = await scheduler.PostAsync("/api/tasks/batch", batch);
        var problem = await ProblemJson.AssertAsync(response, HttpStatusCode.BadRequest);
        var body = problem.ToJsonString();
        var cycle = problem["cycle"]?.AsArray().Select(c => (string)c!).ToList();
        Assert.True(cycle is { Count: 4 }, $"no cycle path of x, y, z: {body}");
        Assert.Equal(cycle![0], cycle[^1]);
        Assert.Equal(["x", "y", "z"], cycle.Skip(1).Order(StringComparer.Ordinal));
        for (var i = 0; i + 1 < cycle.Count; i++)
        {
            // Each step of the path is an edge: "a -> b" where a depends on b.
            Assert.True(dependencies[cycle[i]].Contains(cycle[i + 1]), $"{cycle[i]} does not depend on {cycle[i + 1]}: {body}");
        }

        await AssertNothingWrittenAsync(scheduler, 1, dependencies.Keys);
    }

    [Fact]
    public async Task Duplicate_ids_missing_dependencies_and_existing_ids_are_rejected_and_nothing_is_written()
    {
        await using var scheduler = Start();
        await scheduler.SubmitAsync(new JsonObject { ["id"] = "existing", ["type"] = "etl" });

        using (var response = await scheduler.PostAsync("/api/tasks/batch", """
            [{"id": "a", "type": "etl"}, {"id": "b", "type": "etl", "dependencies": ["a"]}, {"id": "a", "type": "etl"}]
            """))
        {
            var problem = await ProblemJson.AssertFieldAsync(response, "tasks[2].id");
            Assert.Contains("duplicate", problem["errors"]!["tasks[2].id"]![0]!.ToString(), StringComparison.OrdinalIgnoreCase);
        }

        await AssertNothingWrittenAsync(scheduler, 1, ["a", "b"]);

        using (var response = await scheduler.PostAsync("/api/tasks/batch", """
            [{"id": "a", "type": "etl", "dependencies": ["existing"]}, {"id": "b", "type": "etl", "dependencies": ["a", "ghost"]}]
            """))
        {
            var problem = await ProblemJson.AssertAsync(response, HttpStatusCode.BadRequest, "ghost");
            Assert.True(problem["errors"]?.AsObject().Count > 0, problem.ToJsonString());
        }

        await AssertNothingWrittenAsync(scheduler, 1, ["a", "b"]);

        using (var response = await scheduler.PostAsync("/api/tasks/batch", """
            [{"id": "a", "type": "etl"}, {"id": "existing", "type": "etl"}]
            """))
        {
            await ProblemJson.AssertAsync(response, HttpStatusCode.Conflict, "existing");
        }

        await AssertNothingWrittenAsync(scheduler, 1, ["a"]);
    }

    [Fact]
    public async Task Malformed_entries_are_400_naming_each_tasks_index_and_field_and_nothing_is_written()
    {
        await using var scheduler = Start();

        // Wrong JSON shapes, caught while parsing.
        using (var response = await scheduler.PostAsync("/api/tasks/batch", """
            [42, {"id": "b", "type": "etl", "priority": "high"}, {"id": "c"}, {"id": "d", "type": "etl", "dependencies": "a"}]
            """))
        {
            var problem = await ProblemJson.AssertFieldAsync(response, "tasks[0]");
            var errors = problem["errors"]!.AsObject();
            foreach (var field in new[] { "tasks[1].priority", "tasks[2].type", "tasks[3].dependencies" })
            {
                Assert.True(errors.ContainsKey(field), $"errors do not name {field}: {problem.ToJsonString()}");
            }
        }

        // Well-formed JSON, out-of-range values.
        using (var response = await scheduler.PostAsync("/api/tasks/batch", """
            [{"id": "a", "type": "etl", "max_attempts": 0},
             {"id": "b", "type": "etl", "priority": 11, "dependencies": ["b"]},
             {"id": "c", "type": "etl", "timeout_ms": -5},
             {"id": "d d", "type": "etl"}]
            """))
        {
            var problem = await ProblemJson.AssertFieldAsync(response, "tasks[0].max_attempts");
            var errors = problem["errors"]!.AsObject();
            foreach (var field in new[] { "tasks[1].priority", "tasks[1].dependencies[0]", "tasks[2].timeout_ms", "tasks[3].id" })
            {
                Assert.True(errors.ContainsKey(field), $"errors do not name {field}: {problem.ToJsonString()}");
            }
        }

        using (var response = await scheduler.PostAsync("/api/tasks/batch", """{"id": "a", "type": "etl"}"""))
        {
            await ProblemJson.AssertFieldAsync(response, "tasks");
        }

        using (var response = await scheduler.PostAsync("/api/tasks/batch", "[]"))
        {
            await ProblemJson.AssertFieldAsync(response, "tasks");
        }

        await AssertNothingWrittenAsync(scheduler, 0, ["a", "b", "c", "d"]);
    }

    [Fact]
    public async Task A_batch_of_100000_tasks_with_300000_edges_is_accepted()
    {
        await using var scheduler = Start(slots: 1000);
        string[] externals = ["e0", "e1", "e2"];
        foreach (var id in externals)
        {
            await scheduler.SubmitAsync(new JsonObject { ["id"] = id, ["type"] = "bulk" });
        }

        const int count = 100_000;
        var random = new Random(4);
        var edges = 0;
        var tasks = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            // Three distinct dependencies each: earlier tasks of the batch, or existing tasks for the first three.
            var dependencies = new List<string>(3);
            for (var d = 1; d <= Math.Min(i, 3) && i < 3; d++)
            {
                dependencies.Add($"t{i - d}");
            }

            if (i < 3)
            {
                dependencies.AddRange(externals.Take(3 - dependencies.Count));
            }
            else
            {
                var picked = new HashSet<int>();
                while (picked.Count < 3)
                {
                    picked.Add(random.Next(i));
                }

                dependencies.AddRange(picked.Select(p => $"t{p}"));
            }

            edges += dependencies.Count;
            tasks.Add($$"""{"id":"t{{i}}","type":"bulk","dependencies":[{{string.Join(",", dependencies.Select(d => $"\"{d}\""))}}]}""");
        }

        Assert.Equal(300_000, edges);
        // In any order: shuffled, so dependents often come before their dependencies.
        var shuffled = tasks.ToArray();
        random.Shuffle(shuffled);
        var body = new StringBuilder("[").AppendJoin(',', shuffled).Append(']').ToString();

        using var response = await scheduler.PostAsync("/api/tasks/batch", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"answered {(int)response.StatusCode}: {(text.Length > 2000 ? text[..2000] : text)}");
        using var document = JsonDocument.Parse(text);
        var ids = document.RootElement.EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(count, ids.Count);
        Assert.Contains("t0", ids);
        Assert.Contains($"t{count - 1}", ids);

        var stats = await scheduler.StatsAsync();
        Assert.True((long)stats["total"]! == count + externals.Length, stats.ToJsonString());
        var last = await scheduler.GetAsync($"t{count - 1}");
        Assert.Equal(3, last["dependencies"]!.AsArray().Count);
    }

    private static async Task AssertNothingWrittenAsync(LifecycleScheduler scheduler, long total, IEnumerable<string> ids)
    {
        var stats = await scheduler.StatsAsync();
        Assert.True((long)stats["total"]! == total, $"a rejected batch wrote tasks: {stats.ToJsonString()}");
        foreach (var id in ids.Where(i => i != "existing"))
        {
            Assert.Equal(HttpStatusCode.NotFound, await scheduler.StatusCodeOfGetAsync($"/api/tasks/{Uri.EscapeDataString(id)}"));
        }
    }
}
