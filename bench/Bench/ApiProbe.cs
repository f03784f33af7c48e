using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;

namespace OrleansScheduler.Bench;

/// <summary>Read endpoints on a big database (issue 4 point 11): GET /api/stats and the pages of
/// GET /api/tasks, timed against the built WebApi as a pure front end, and SQLite's query plans of
/// the statements behind them (copied from src/Grains/Storage/Sqlite/SqliteSql.cs and
/// SqliteTaskStore.Queries.cs), to show they use indexes and counters rather than scans.</summary>
public static class ApiProbe
{
    /// <summary>The read statements as the store issues them (the list query is built from the filters given).</summary>
    public static readonly (string Name, string Sql)[] Statements =
    [
        ("stats: counts", "SELECT status, count FROM status_counts"),
        ("stats: completed last minute", "SELECT coalesce(sum(count), 0) FROM completions_per_second WHERE second > 0"),
        ("stats: recent completions", "SELECT started_at - queued_at, completed_at - started_at FROM tasks INDEXED BY tasks_completed WHERE status = 'COMPLETED' AND completed_at IS NOT NULL ORDER BY completed_at DESC LIMIT 1000"),
        ("stats: silos alive", "SELECT count(*) FROM silos WHERE status = 'ACTIVE' AND heartbeat_at >= 0"),
        ("stats: slot holders", "SELECT s.slot_no, t.id, s.silo, s.attempt, s.leased_at FROM slots s JOIN tasks t ON t.seq = s.task ORDER BY s.slot_no"),
        ("list: page", "SELECT seq, id, type, status, priority, attempts, created_at, started_at, completed_at FROM tasks WHERE seq > 0 ORDER BY seq LIMIT 101 OFFSET 0"),
        ("list: status page", "SELECT seq, id, type, status, priority, attempts, created_at, started_at, completed_at FROM tasks WHERE seq > 0 AND status IN ('COMPLETED') ORDER BY seq LIMIT 101 OFFSET 0"),
        ("list: type page", "SELECT seq, id, type, status, priority, attempts, created_at, started_at, completed_at FROM tasks WHERE seq > 0 AND type = 'noop' ORDER BY seq LIMIT 101 OFFSET 0"),
        ("claim: ready tasks", "SELECT seq FROM tasks INDEXED BY tasks_ready WHERE status = 'QUEUED' ORDER BY priority DESC, seq LIMIT 1000"),
        ("completion: slot of a task", "UPDATE slots SET task = NULL WHERE task = 1"),
    ];

    /// <summary>EXPLAIN QUERY PLAN of each statement on <paramref name="database"/>, one line each.</summary>
    public static List<(string Name, string Plan)> Plans(string database)
    {
        var plans = new List<(string, string)>();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        foreach (var (name, sql) in Statements)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "EXPLAIN QUERY PLAN " + sql;
            using var reader = command.ExecuteReader();
            var steps = new List<string>();
            while (reader.Read())
            {
                steps.Add(reader.GetString(3));
            }

            plans.Add((name, string.Join("; ", steps)));
        }

        return plans;
    }

    /// <summary>Each statement run directly on the database (no HTTP), median of 5 runs in ms,
    /// with its plan: how the read paths cost with the rows a drain left behind.</summary>
    public static List<(string Name, double Ms, string Plan)> TimeStatements(string database)
    {
        var plans = Plans(database).ToDictionary(p => p.Name, p => p.Plan, StringComparer.Ordinal);
        var result = new List<(string, double, string)>();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        foreach (var (name, sql) in Statements.Where(s => !s.Sql.StartsWith("UPDATE", StringComparison.Ordinal)))
        {
            var times = new List<double>();
            for (var i = 0; i < 5; i++)
            {
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                var start = Stopwatch.GetTimestamp();
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                    }
                }

                times.Add(Rig.Ms(start, Stopwatch.GetTimestamp()));
            }

            times.Sort();
            result.Add((name, times[2], plans[name]));
        }

        return result;
    }

    /// <summary>Marks what grows with the table: a scan of tasks or task_events (small tables such
    /// as status_counts, silos and slots are fine to scan), or a sort of every matching row.</summary>
    public static string Flag(string plan) =>
        plan.Contains("SCAN tasks", StringComparison.Ordinal) || plan.Contains("SCAN task_events", StringComparison.Ordinal) ? "  <- scans the table"
        : plan.Contains("TEMP B-TREE", StringComparison.Ordinal) ? "  <- sorts every matching row"
        : "";

    /// <summary>Starts the WebApi (no silo) on the database and times the read endpoints.</summary>
    public static async Task MeasureAsync(string database, long stored, Report report)
    {
        foreach (var (name, plan) in Plans(database))
        {
            Console.WriteLine($"   plan {name,-30} {plan}");
            report.Add("api", "plan: " + name, double.NaN, "", note: plan + Flag(plan));
        }

        var port = Child.FreePort();
        using var server = Child.Start("WebApi", new Dictionary<string, string>
        {
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["DATABASE_URL"] = database,
            ["LOG_LEVEL"] = "warning",
            ["Silo__Enabled"] = "false",
        });
        var baseUrl = $"http://127.0.0.1:{port}";
        await server.WaitReadyAsync(baseUrl + "/health/ready", TimeSpan.FromSeconds(120));
        using var client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(120) };

        // Warm-up: JIT of the endpoints and the page cache of the indexes they read.
        for (var i = 0; i < 20; i++)
        {
            await TimeAsync(client, "/api/stats");
            await TimeAsync(client, "/api/tasks?limit=100");
        }

        var stats = new List<double>();
        for (var i = 0; i < 200; i++)
        {
            stats.Add((await TimeAsync(client, "/api/stats")).Ms);
        }

        report.Add("api", "tasks stored", stored, "tasks", note: "WebApi as a pure front end on the memory scenario's database");
        Percentiles(report, "GET /api/stats", stats, "200 sequential requests");

        // Walk 200 pages of 100 by the Link header, from the start.
        var pages = new List<double>();
        var url = "/api/tasks?limit=100";
        for (var i = 0; i < 200 && url is not null; i++)
        {
            var (ms, next) = await TimeAsync(client, url);
            pages.Add(ms);
            url = next;
        }

        Percentiles(report, "GET /api/tasks page (cursor)", pages, $"{pages.Count} pages of 100 following Link");

        foreach (var (label, path) in new[]
        {
            ("first page ?status=COMPLETED", "/api/tasks?status=COMPLETED&limit=100"),
            ("first page ?status=SCHEDULED", "/api/tasks?status=SCHEDULED&limit=100"),
            ("first page ?status=FAILED (none)", "/api/tasks?status=FAILED&limit=100"),
            ("first page ?type=noop", "/api/tasks?type=noop&limit=100"),
            ($"page at cursor {stored - 1000:N0}", $"/api/tasks?limit=100&cursor={stored - 1000}"),
            ($"?offset={stored - 1000:N0}", $"/api/tasks?limit=100&offset={stored - 1000}"),
        })
        {
            var runs = new List<double>();
            for (var i = 0; i < 20; i++)
            {
                runs.Add((await TimeAsync(client, path)).Ms);
            }

            Percentiles(report, "GET " + label, runs, "20 requests");
        }

        report.Add("api", "WebApi peak RSS", ThreadCpu.MemoryMb(server.Pid, "VmHWM"), "MB");
    }

    private static void Percentiles(Report report, string name, List<double> values, string note)
    {
        values.Sort();
        report.Add("api", name + " p50", Stats.Percentile(values, 50), "ms", note: $"p99 {Stats.Percentile(values, 99):F2} ms, max {values[^1]:F2} ms; {note}");
    }

    private static async Task<(double Ms, string? Next)> TimeAsync(HttpClient client, string path)
    {
        var start = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        var body = await response.Content.ReadAsByteArrayAsync();
        var ms = Rig.Ms(start, Stopwatch.GetTimestamp());
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        }

        string? next = null;
        if (response.Headers.TryGetValues("Link", out var links))
        {
            var link = links.First();
            next = link[(link.IndexOf('<', StringComparison.Ordinal) + 1)..link.IndexOf('>', StringComparison.Ordinal)];
        }

        return (ms, next);
    }
}
