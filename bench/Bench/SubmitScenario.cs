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
        var modes = MetricsRun.Modes(options);
        var mode = run
            ? $"the co-hosted silo runs the tasks meanwhile (type noop, simulator, limit {slots})"
            : "run_at a year ahead: nothing runs (submission path only)";
        if (modes.Count > 1)
        {
            // --metrics both: a fresh server per run, off and on alternating.
            var results = new List<(bool Metrics, Measured Figures)>();
            foreach (var metrics in modes)
            {
                var figures = await MeasureAsync(options, requests, clients, warmup, run, slots, metrics);
                Console.WriteLine($"   submit, {MetricsRun.Name(metrics)}: {figures.Accepted:N0}/s, p50 {figures.P50:F1} ms, p99 {figures.P99:F1} ms; server CPU {figures.ServerCores:F2} cores; {figures.Scrapes}");
                results.Add((metrics, figures));
            }

            report.Add("submit", "requests / clients", requests, "req", note: $"{clients} concurrent clients; WebApi co-hosting its silo on SQLite; {mode}; --metrics both: {modes.Count} servers, off and on alternating; load average after {Report.LoadAverage()}");
            MetricsRun.ReportBoth(report, "submit", "accepted", "tasks/s", results.Select(r => (r.Metrics, r.Figures.Accepted)).ToList());
            MetricsRun.ReportBoth(report, "submit", "latency p99", "ms", results.Select(r => (r.Metrics, r.Figures.P99)).ToList(), higherIsBetter: false);
            MetricsRun.ReportBoth(report, "submit", "server CPU per request", "us",
                results.Select(r => (r.Metrics, r.Figures.ServerCores / r.Figures.Accepted * 1e6)).ToList(), higherIsBetter: false);
            return;
        }

        var m = await MeasureAsync(options, requests, clients, warmup, run, slots, modes[0]);
        report.Add("submit", "requests / clients", requests, "req", note: $"{clients} concurrent clients; WebApi co-hosting its silo on SQLite; {mode}; {MetricsRun.Name(modes[0])}; load average after {Report.LoadAverage()}");
        report.AtLeast("submit", "accepted", m.Accepted, "tasks/s", 5_000);
        report.Add("submit", "latency p50", m.P50, "ms");
        report.Below("submit", "latency p99", m.P99, "ms", 25);
        report.Add("submit", "latency max", m.Max, "ms");
        report.Add("submit", "non-201 answers", m.Failures, "req", note: m.FirstFailure);
        if (run)
        {
            report.Add("submit", "completed meanwhile", m.CompletedPerSecond, "tasks/s", note: $"{m.Completed:N0} tasks COMPLETED during the measured requests, at limit {slots}");
        }

        report.Add("submit", "server CPU", m.ServerCores, "cores", note: m.ServerTop);
        report.Add("submit", "client (bench) CPU", m.ClientCores, "cores");
        report.Add("submit", "server peak RSS", m.PeakRssMb, "MB");
    }

    private sealed record Measured(double Accepted, double P50, double P99, double Max, int Failures, string? FirstFailure,
        long Completed, double CompletedPerSecond, double ServerCores, string ServerTop, double ClientCores, double PeakRssMb, string Scrapes);

    /// <summary>One server: warm-up, then the measured requests; with <paramref name="metrics"/> its
    /// /metrics is scraped meanwhile.</summary>
    private static async Task<Measured> MeasureAsync(Options options, int requests, int clients, int warmup, bool run, int slots, bool metrics)
    {
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
                ["Telemetry__Metrics__Enabled"] = metrics ? "true" : "false",
                ["Telemetry__OrleansDashboard__Enabled"] = Rig.OrleansDashboard ? "true" : "false",
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
            var scraper = metrics ? new Scraper(baseUrl + "/metrics") : null;
            Run measured;
            try
            {
                measured = await PostManyAsync(client, "s", requests, clients, runAt);
            }
            finally
            {
                if (scraper is not null)
                {
                    await scraper.DisposeAsync();
                }
            }

            var (serverCores, serverTop) = serverCpu.Finish();
            var (clientCores, _) = clientCpu.Finish();
            var completed = watcher.Scalar("SELECT coalesce(sum(count), 0) FROM status_counts WHERE status = 'COMPLETED'") - completedBefore;
            var latencies = measured.Latencies;
            latencies.Sort();
            return new Measured(measured.Accepted / measured.Seconds, Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99),
                latencies.Count == 0 ? double.NaN : latencies[^1], measured.Failures, measured.FirstFailure, completed, completed / measured.Seconds,
                serverCores, serverTop, clientCores, ThreadCpu.MemoryMb(server.Pid, "VmHWM"), scraper?.ToString() ?? "not scraped");
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
