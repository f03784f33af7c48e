using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace OrleansScheduler.Bench;

/// <summary>5. One batch of 100,000 tasks with ~300,000 edges: time to accept (in-process through the
/// catalog grain, and over HTTP POST /api/tasks/batch), then the makespan of running it against its
/// critical path.</summary>
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
            var store = await Rig.StartStoreAsync(database, slots);
            double acceptSeconds;
            try
            {
                var clock = Stopwatch.StartNew();
                await store.Services.GetRequiredServiceCompat().GetCatalogGrain().SubmitBatchAsync(specs);
                acceptSeconds = clock.Elapsed.TotalSeconds;
            }
            finally
            {
                await Rig.StopAsync(store);
            }

            report.Below("dag", "accept, in-process (catalog grain)", acceptSeconds, "s", 10);

            if (run)
            {
                var recorder = new Recorder();
                var silo = Rig.BuildSilo(database, slots, slots, Math.Min(slots, 10_000), recorder);
                using var watcher = new DbWatcher(database);
                var cpu = new ThreadCpu();
                await silo.StartAsync();
                long done;
                try
                {
                    done = await watcher.WaitForTerminalAsync(tasks, TimeSpan.FromMinutes(30), label: "dag");
                }
                finally
                {
                    await Rig.StopAsync(silo);
                }

                var (cores, top) = cpu.Finish();
                var makespan = Rig.Ms(recorder.FirstStart, done) / 1000.0;
                report.Add("dag", "makespan (no-op tasks)", makespan, "s", note: $"{tasks / makespan:N0} tasks/s; CPU {cores:F2} cores: {top}");
                report.Add("dag", "makespan / critical path", makespan * 1000 / criticalPath, "ms/level",
                    note: report.Shared.TryGetValue("drain_rate", out var rate) ? $"throughput bound N/drain rate = {tasks / rate:F2} s" : null);
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }

        if (overHttp)
        {
            await AcceptOverHttpAsync(specs, options, report);
        }
    }

    private static async Task AcceptOverHttpAsync(List<TaskSpec> specs, Options options, Report report)
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
                ["Silo__Enabled"] = "false",
            });
            var baseUrl = $"http://127.0.0.1:{port}";
            await server.WaitReadyAsync(baseUrl + "/health/ready", TimeSpan.FromSeconds(60));
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
            report.Add("dag", "batch body", body.Length / 1048576.0, "MB", note: $"server peak RSS {ThreadCpu.MemoryMb(server.Pid, "VmHWM"):N0} MB");
            _ = Encoding.UTF8;
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }
}

internal static class ServiceProviderCompat
{
    public static IGrainFactory GetRequiredServiceCompat(this IServiceProvider services) =>
        (IGrainFactory)(services.GetService(typeof(IGrainFactory)) ?? throw new InvalidOperationException("no IGrainFactory"));
}
