using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace OrleansScheduler.Bench;

/// <summary>2. Many concurrent HTTP clients post single tasks to the built WebApi (a real Kestrel
/// server in its own process) as one command runs it: on SQLite, co-hosting its Orleans silo (a pure
/// front end exists only on PostgreSQL). Accepted/s and the latency of the 201s (durably committed).
/// By default the silo runs the tasks meanwhile at the product's default limit of 3, as the one
/// command does; --submit-run false gives every task a run_at a year ahead, so nothing runs and
/// only the submission path is measured.</summary>
public static class SubmitScenario
{
    public static async Task RunAsync(Options options, Report report)
    {
        var requests = options.Int("submit-requests", 30_000, quick: 15_000);
        var clients = options.Int("submit-clients", 64);
        // Tiered compilation with dynamic PGO takes the WebApi tens of thousands of requests to reach its
        // steady state (after 2,000 requests: 4,400/s, p99 37 ms; after 60,000: 10,200/s, p99 16 ms,
        // docs/performance.md), and a server runs for days: the measured requests come after that.
        var warmup = options.Int("submit-warmup", 60_000);
        var run = options.Flag("submit-run", true);
        var slots = options.Int("submit-slots", 3);
        var database = Rig.NewDatabase("submit");
        var port = Child.FreePort();
        try
        {
            using var server = Child.Start("WebApi", new Dictionary<string, string>
            {
                ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["DATABASE_URL"] = database,
                ["MAX_CONCURRENT_TASKS"] = slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["LOG_LEVEL"] = "warning",
            });
            var baseUrl = $"http://127.0.0.1:{port}";
            await server.WaitReadyAsync(baseUrl + "/health/ready", TimeSpan.FromSeconds(120));
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = clients, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var client = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };

            // A year ahead: SCHEDULED beyond the timer horizon, so no grain timer and no slot.
            var runAt = run ? null : DateTimeOffset.UtcNow.AddYears(1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
            await PostManyAsync(client, "w", warmup, clients, runAt);
            using var watcher = new DbWatcher(database);
            var completedBefore = watcher.Scalar("SELECT coalesce(sum(count), 0) FROM status_counts WHERE status = 'COMPLETED'");
            var serverCpu = new ThreadCpu(server.Pid);
            var clientCpu = new ThreadCpu();
            var measured = await PostManyAsync(client, "s", requests, clients, runAt);
            var (serverCores, serverTop) = serverCpu.Finish();
            var (clientCores, _) = clientCpu.Finish();
            var completed = watcher.Scalar("SELECT coalesce(sum(count), 0) FROM status_counts WHERE status = 'COMPLETED'") - completedBefore;
            var latencies = measured.Latencies;
            latencies.Sort();
            var mode = run
                ? $"the co-hosted silo runs the tasks meanwhile (type noop, simulator, limit {slots})"
                : "run_at a year ahead: nothing runs (submission path only)";
            report.Add("submit", "requests / clients", requests, "req", note: $"{clients} concurrent clients; WebApi co-hosting its silo on SQLite; {mode}; load average after {Report.LoadAverage()}");
            report.AtLeast("submit", "accepted", measured.Accepted / measured.Seconds, "tasks/s", 5_000);
            report.Add("submit", "latency p50", Stats.Percentile(latencies, 50), "ms");
            report.Below("submit", "latency p99", Stats.Percentile(latencies, 99), "ms", 25);
            report.Add("submit", "latency max", latencies.Count == 0 ? double.NaN : latencies[^1], "ms");
            report.Add("submit", "non-201 answers", measured.Failures, "req", note: measured.FirstFailure);
            if (run)
            {
                report.Add("submit", "completed meanwhile", completed / measured.Seconds, "tasks/s", note: $"{completed:N0} tasks COMPLETED during the measured requests, at limit {slots}");
            }

            report.Add("submit", "server CPU", serverCores, "cores", note: serverTop);
            report.Add("submit", "client (bench) CPU", clientCores, "cores");
            report.Add("submit", "server peak RSS", ThreadCpu.MemoryMb(server.Pid, "VmHWM"), "MB");
        }
        finally
        {
            Rig.DeleteDatabase(database, options);
        }
    }

    private sealed record Run(List<double> Latencies, int Accepted, int Failures, string? FirstFailure, double Seconds);

    private static async Task<Run> PostManyAsync(HttpClient client, string prefix, int count, int clients, string? runAt)
    {
        var next = -1;
        var accepted = 0;
        var failures = 0;
        string? firstFailure = null;
        var perClient = new List<double>[clients];
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var latencies = perClient[c] = new List<double>(count / clients + 1);
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= count)
                {
                    return;
                }

                var body = Encoding.UTF8.GetBytes(runAt is null
                    ? $$"""{"id":"{{prefix}}{{i}}","type":"noop","duration_ms":0}"""
                    : $$"""{"id":"{{prefix}}{{i}}","type":"noop","duration_ms":0,"run_at":"{{runAt}}"}""");
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                var start = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.PostAsync(new Uri("/api/tasks", UriKind.Relative), content);
                    var elapsed = Rig.Ms(start, Stopwatch.GetTimestamp());
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        latencies.Add(elapsed);
                        Interlocked.Increment(ref accepted);
                    }
                    else
                    {
                        Interlocked.Increment(ref failures);
                        firstFailure ??= $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}";
                    }
                }
                catch (HttpRequestException ex)
                {
                    Interlocked.Increment(ref failures);
                    firstFailure ??= ex.Message;
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var seconds = clock.Elapsed.TotalSeconds;
        return new Run(perClient.SelectMany(l => l).ToList(), accepted, failures, firstFailure, seconds);
    }
}
