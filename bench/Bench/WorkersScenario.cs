using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansScheduler.Bench;

/// <summary>External workers (issue 11), against the built WebApi (one command's process, SQLite,
/// its silo co-hosted):
/// 1. throughput: two reference workers (src/Worker, processes of their own) run no-op tasks
///    (their simulator, 0 ms) with leases of up to 64 and 64 tasks at once each; a batch of tasks
///    is submitted while they poll, and the clock runs from the batch's 201 to the last COMPLETED;
/// 2. long-poll wake-up: the bench itself is a worker with a long poll waiting; it submits one task
///    of its type and measures until its poll is answered with it, from the 201 of the submission
///    (the task is QUEUED, committed, before that 201 is sent) and, as an upper bound, from the
///    moment the submission was sent.</summary>
public static class WorkersScenario
{
    private const string NoopType = "bench_noop";
    private const string WakeType = "bench_wake";

    public static async Task RunAsync(Options options, Report report)
    {
        var tasks = options.Int("workers-tasks", 30_000, quick: 10_000);

        // As in submit: the server's JIT and tiered compilation take thousands of requests to settle,
        // and a server runs for days, so a first batch runs through the workers unmeasured.
        var warmup = options.Int("workers-warmup", 20_000, quick: 5_000, allowZero: true);
        var lease = options.Int("workers-lease", 64);
        var wakeSamples = options.Int("workers-wake-samples", 300, quick: 100);
        var slots = options.Int("workers-slots", 2 * lease);
        var database = Rig.NewDatabase("workers");
        var port = Child.FreePort();
        try
        {
            using var server = Child.Start("WebApi", new Dictionary<string, string>
            {
                ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["DATABASE_URL"] = database,
                ["MAX_CONCURRENT_TASKS"] = slots.ToString(CultureInfo.InvariantCulture),
                ["LOG_LEVEL"] = "warning",
                ["Telemetry__OrleansDashboard__Enabled"] = Rig.OrleansDashboard ? "true" : "false",
            });
            var baseUrl = $"http://127.0.0.1:{port}";
            await server.WaitReadyAsync(baseUrl + "/health/ready", TimeSpan.FromSeconds(120));
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 16, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var client = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(120) };

            var wake = await WakeUpAsync(client, wakeSamples);
            report.Add("workers", "wake-up samples", wake.Count, "polls", note: "the bench as a worker: a long poll waits, one task of its type is submitted, the poll answers with it");
            report.Below("workers", "wake-up p50 (from the 201)", Stats.Percentile(wake.FromAck, 50), "ms", 5);
            report.Add("workers", "wake-up p99 (from the 201)", Stats.Percentile(wake.FromAck, 99), "ms");
            report.Add("workers", "wake-up p50 (from the submission sent)", Stats.Percentile(wake.FromSend, 50), "ms",
                note: "an upper bound: includes the submission's own parse, grain call and commit");

            var workers = Enumerable.Range(1, 2).Select(i => Child.Start("Worker", new Dictionary<string, string>(),
                "--worker-id", $"bench-worker-{i}", "--capabilities", NoopType, "--server", baseUrl,
                "--max-concurrent", lease.ToString(CultureInfo.InvariantCulture), "--max-lease", lease.ToString(CultureInfo.InvariantCulture))).ToList();
            try
            {
                await WaitAsync("both reference workers registered", TimeSpan.FromSeconds(120), async () =>
                    (await client.GetFromJsonAsync<JsonArray>("/api/workers"))!.Count(w => (string?)w!["kind"] == "external" && (string?)w["status"] == "ACTIVE") == 2,
                    () => string.Join("\n", workers.Select(w => w.Output)));

                if (warmup > 0)
                {
                    var (warmSeconds, _) = await ThroughputAsync(client, database, warmup, "warm");
                    Console.WriteLine($"   (warm-up: {warmup:N0} tasks through the workers at {warmup / warmSeconds:N0}/s)");
                }

                var serverCpu = new ThreadCpu(server.Pid);
                var workerCpu = workers.Select(w => new ThreadCpu(w.Pid)).ToList();
                var (seconds, submitSeconds) = await ThroughputAsync(client, database, tasks, "noop");
                var (serverCores, serverTop) = serverCpu.Finish();
                var workerCores = workerCpu.Select(w => w.Finish()).ToList();
                report.Add("workers", "tasks / workers", tasks, "tasks", note: $"2 reference worker processes, leases of up to {lease}, {lease} tasks at once each; limit {slots} slots; no-op tasks (the worker's simulator, 0 ms); after a warm-up of {warmup:N0}; one batch of {tasks:N0} committed in {submitSeconds:F2} s before the clock starts");
                report.AtLeast("workers", "throughput through external workers", tasks / seconds, "tasks/s", 3_000);
                report.Add("workers", "server CPU", serverCores, "cores", note: serverTop);
                report.Add("workers", "workers' CPU", workerCores.Sum(w => w.Cores), "cores", note: string.Join("; ", workerCores.Select(w => w.Top)));
                report.Add("workers", "server peak RSS", ThreadCpu.MemoryMb(server.Pid, "VmHWM"), "MB");
            }
            finally
            {
                foreach (var worker in workers)
                {
                    worker.Dispose();
                }
            }
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }

    private sealed record Wake(int Count, List<double> FromAck, List<double> FromSend);

    private static async Task<Wake> WakeUpAsync(HttpClient client, int samples)
    {
        const string worker = "bench-wake-probe";
        using (var register = await client.PostAsJsonAsync("/api/workers/register", new { worker_id = worker, capabilities = new[] { WakeType }, max_concurrent_tasks = 1 }))
        {
            register.EnsureSuccessStatusCode();
        }

        var fromAck = new List<double>(samples);
        var fromSend = new List<double>(samples);
        var clock = Stopwatch.StartNew();
        for (var i = -20; i < samples; i++)
        {
            // The poll is waiting before the task exists: a heartbeat first, so the probe stays alive.
            using (await client.PostAsJsonAsync($"/api/workers/{worker}/heartbeat", new { status = "active" }))
            {
            }

            var poll = client.PostAsJsonAsync($"/api/workers/{worker}/lease", new { max_tasks = 1, wait_ms = 10_000 });
            await Task.Delay(20); // the poll reaches the server and waits there
            var id = $"wake-{i + 20}";
            var sent = clock.Elapsed.TotalMilliseconds;
            using (var submit = await client.PostAsync("/api/tasks", new StringContent($$"""{"id":"{{id}}","type":"{{WakeType}}"}""", Encoding.UTF8, "application/json")))
            {
                submit.EnsureSuccessStatusCode();
            }

            var acknowledged = clock.Elapsed.TotalMilliseconds;
            using var answer = await poll;
            var answered = clock.Elapsed.TotalMilliseconds;
            var leased = (await answer.Content.ReadFromJsonAsync<JsonObject>())!["tasks"]!.AsArray();
            if (leased.Count != 1 || (string?)leased[0]!["id"] != id)
            {
                throw new InvalidOperationException($"the waiting poll answered {leased.ToJsonString()} instead of {id}");
            }

            using (await client.PostAsJsonAsync($"/api/workers/{worker}/tasks/{id}/complete", new { lease_token = (string)leased[0]!["lease_token"]! }))
            {
            }

            if (i >= 0)
            {
                fromAck.Add(Math.Max(0, answered - acknowledged));
                fromSend.Add(answered - sent);
            }
        }

        using (await client.PostAsync($"/api/workers/{worker}/deregister", null))
        {
        }

        fromAck.Sort();
        fromSend.Sort();
        return new Wake(samples, fromAck, fromSend);
    }

    /// <summary>One batch of no-op tasks for the workers; seconds from its 201 to the last COMPLETED.</summary>
    private static async Task<(double Seconds, double SubmitSeconds)> ThroughputAsync(HttpClient client, string database, int count, string prefix)
    {
        var batch = new StringBuilder("[");
        for (var i = 0; i < count; i++)
        {
            batch.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $$"""{"id":"{{prefix}}-{{i}}","type":"{{NoopType}}"}""");
        }

        batch.Append(']');
        using var watcher = new DbWatcher(database);
        var before = watcher.Scalar("SELECT coalesce(sum(count), 0) FROM status_counts WHERE status = 'COMPLETED'");
        var submit = Stopwatch.StartNew();
        using (var response = await client.PostAsync("/api/tasks/batch", new StringContent(batch.ToString(), Encoding.UTF8, "application/json")))
        {
            response.EnsureSuccessStatusCode();
        }

        var submitSeconds = submit.Elapsed.TotalSeconds;
        var clock = Stopwatch.StartNew();
        while (watcher.Scalar("SELECT coalesce(sum(count), 0) FROM status_counts WHERE status = 'COMPLETED'") - before < count)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException($"the workers completed {watcher.Scalar("SELECT coalesce(sum(count), 0) FROM status_counts WHERE status = 'COMPLETED'") - before:N0} of {count:N0} tasks in 10 minutes");
            }

            await Task.Delay(5);
        }

        return (clock.Elapsed.TotalSeconds, submitSeconds);
    }

    private static async Task WaitAsync(string what, TimeSpan timeout, Func<Task<bool>> condition, Func<string> diagnostics)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{what}: not after {timeout.TotalSeconds:0} s\n{diagnostics()}");
            }

            await Task.Delay(100);
        }
    }
}
