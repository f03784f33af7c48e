using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansScheduler.Bench;

/// <summary>5. One batch of 100,000 tasks with ~300,000 edges: time to accept (in-process through the
/// catalog grain of a running silo, and over HTTP POST /api/tasks/batch to the one-process WebApi),
/// then the makespan of running it against its critical path.</summary>
public static class DagScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var tasks = options.Int("dag-tasks", 100_000);
        var perTask = options.Int("dag-edges-per-task", 3);
        var slots = options.Int("dag-slots", 1000);
        var overHttp = options.Flag("dag-http", true);
        var run = options.Flag("dag-run", true);

        // Task i depends on perTask distinct random earlier tasks (fixed seed): a DAG by construction.
        var random = new Random(42);
        var specs = new List<TaskSpec>(tasks);
        var depth = new int[tasks];
        long edges = 0;
        for (var i = 0; i < tasks; i++)
        {
            var parents = new HashSet<int>();
            while (parents.Count < Math.Min(i, perTask))
            {
                parents.Add(random.Next(i));
            }

            depth[i] = parents.Count == 0 ? 1 : parents.Max(p => depth[p]) + 1;
            edges += parents.Count;
            specs.Add(Rig.Spec($"d{i}", dependencies: parents.Select(p => $"d{p}").ToList()));
        }

        var criticalPath = depth.Max();
        report.Add("dag", "tasks / edges", tasks, "tasks", note: $"{edges:N0} edges, critical path {criticalPath} tasks");

        var database = Rig.NewDatabase("dag");
        try
        {
            // The catalog grain needs a silo; the silo runs the DAG as soon as it is committed, so
            // the run's makespan starts at the first handler start (after the accept).
            var recorder = new Recorder();
            var silo = Rig.BuildSilo(database, slots, recorder);
            await silo.StartAsync();
            try
            {
                using var watcher = new DbWatcher(database);
                var grains = silo.Services.GetRequiredService<IGrainFactory>();
                var cpu = new ThreadCpu();
                var clock = Stopwatch.StartNew();
                await grains.GetCatalogGrain().SubmitBatchAsync(specs);
                var acceptSeconds = clock.Elapsed.TotalSeconds;
                report.Below("dag", "accept, in-process (catalog grain)", acceptSeconds, "s", 10);

                if (run)
                {
                    var done = await watcher.WaitForTerminalAsync(tasks, TimeSpan.FromMinutes(30), label: "dag");
                    var (cores, top) = cpu.Finish();
                    var makespan = Rig.Ms(recorder.FirstStart, done) / 1000.0;
                    report.Add("dag", "makespan (no-op tasks)", makespan, "s", note: $"{tasks / makespan:N0} tasks/s; CPU {cores:F2} cores (accept and run): {top}");
                    report.Add("dag", "makespan / critical path", makespan * 1000 / criticalPath, "ms/level",
                        note: report.Shared.TryGetValue("drain_rate", out var rate) ? $"throughput bound N/drain rate = {tasks / rate:F2} s" : null);
                }
            }
            finally
            {
                await Rig.StopAsync(silo);
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }

        if (overHttp)
        {
            await AcceptOverHttpAsync(specs, slots, options, report);
        }
    }

    /// <summary>The one-process WebApi (co-hosting its silo on SQLite, as one command runs it): the
    /// figure ends at the 201; the silo starts running the DAG once it is committed.</summary>
    private static async Task AcceptOverHttpAsync(List<TaskSpec> specs, int slots, Options options, Report report)
    {
        var database = Rig.NewDatabase("dag-http");
        var port = Child.FreePort();
        try
        {
            using var server = Child.Start("WebApi", new Dictionary<string, string>
            {
                ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["DATABASE_URL"] = database,
                ["LOG_LEVEL"] = "warning",
                ["MAX_CONCURRENT_TASKS"] = slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
            var baseUrl = $"http://127.0.0.1:{port}";
            await server.WaitReadyAsync(baseUrl + "/health/ready", TimeSpan.FromSeconds(120));
            var body = new MemoryStream();
            using (var writer = new Utf8JsonWriter(body))
            {
                writer.WriteStartArray();
                foreach (var spec in specs)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", spec.Id);
                    writer.WriteString("type", spec.Type);
                    writer.WriteNumber("duration_ms", 0);
                    writer.WriteStartArray("dependencies");
                    foreach (var d in spec.Dependencies)
                    {
                        writer.WriteStringValue(d);
                    }

                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            using var client = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
            using var content = new ByteArrayContent(body.ToArray());
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            var clock = Stopwatch.StartNew();
            using var response = await client.PostAsync(new Uri(baseUrl + "/api/tasks/batch"), content);
            var seconds = clock.Elapsed.TotalSeconds;
            if (response.StatusCode != HttpStatusCode.Created)
            {
                var text = await response.Content.ReadAsStringAsync();
                throw new InvalidOperationException($"batch POST answered {(int)response.StatusCode}: {text[..Math.Min(400, text.Length)]}");
            }

            report.Below("dag", "accept, HTTP POST /api/tasks/batch", seconds, "s", 10);
            report.Add("dag", "batch body", body.Length / 1048576.0, "MB", note: $"WebApi co-hosting its silo; server peak RSS {ThreadCpu.MemoryMb(server.Pid, "VmHWM"):N0} MB; load average after {Report.LoadAverage()}");
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }
}
