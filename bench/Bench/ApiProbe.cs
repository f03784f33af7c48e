using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Bench;

/// <summary>Read endpoints on a big database (issue 4 point 11): GET /api/stats and the pages of
/// GET /api/tasks, timed against the built WebApi, and SQLite's query plans of the statements behind
/// them and behind the grains' hot paths, taken from sql/sqlite/queries.sql as the silo runs them
/// (<see cref="SqlStatements"/>; listings built by <see cref="TaskListing"/>), to show they use
/// indexes and counters rather than scans.</summary>
public static class ApiProbe
{
    /// <summary>One statement as the silo issues it, with the parameters it binds.</summary>
    public sealed record Statement(string Name, string Sql, IReadOnlyList<(string Name, object? Value)> Parameters)
    {
        /// <summary>Whether it changes rows (only its plan is shown, it is not run): its first line
        /// that is not a comment starts with UPDATE, DELETE or INSERT.</summary>
        public bool Writes => Sql.Split('\n').Select(l => l.Trim()).First(l => l.Length > 0 && !l.StartsWith("--", StringComparison.Ordinal)) is var first
            && (first.StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase)
                || first.StartsWith("DELETE", StringComparison.OrdinalIgnoreCase)
                || first.StartsWith("INSERT", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The statements of sql/sqlite/queries.sql that grow with the tables, bound to values
    /// from <paramref name="connection"/>'s database (its newest task's id, seq and type).</summary>
    public static List<Statement> Statements(SqliteConnection connection)
    {
        var sql = SqlStatements.Load("sqlite");
        var (id, seq, type) = ("none", 0L, "noop");
        using (var newest = connection.CreateCommand())
        {
            newest.CommandText = "SELECT id, seq, type FROM tasks ORDER BY seq DESC LIMIT 1";
            using var reader = newest.ExecuteReader();
            if (reader.Read())
            {
                (id, seq, type) = (reader.GetString(0), reader.GetInt64(1), reader.GetString(2));
            }
        }

        var now = DateTimeOffset.UtcNow;
        Statement Named(string label, string name, params (string, object?)[] parameters) => new(label, sql[name], parameters);
        Statement Listing(string label, TaskQuery query)
        {
            var (text, parameters) = TaskListing.Build(query, sql["SummaryColumns"], '@');
            return new(label, text, parameters.Select(p => (p.Name, (object?)p.Value)).ToList());
        }

        return
        [
            Named("stats: counts", "Counts"),
            Named("stats: completed last minute", "CompletedSince", ("@since", (now - TimeSpan.FromMinutes(1)).ToUnixTimeSeconds())),
            Named("stats: recent completions", "RecentCompletions"),
            Named("slots: holders", "ReadHolders"),
            Listing("list: page", new TaskQuery(null, null, 100, null, 0)),
            Listing("list: status page", new TaskQuery(TaskStatus.Completed, null, 100, null, 0)),
            Listing("list: type page", new TaskQuery(null, type, 100, null, 0)),
            Named("grant: ready tasks", "ReadyTasks", ("@max", 1000)),
            Named("activation: ReadTask", "ReadTask", ("@id", id)),
            Named("task: events", "EventsOf", ("@seq", seq)),
            Named("task: dependencies", "DependenciesOf", ("@seq", seq)),
            Named("sweep: due scheduled", "DueScheduled", ("@until", (now + TimeSpan.FromMinutes(2)).ToUnixTimeMilliseconds()), ("@max", 10_000)),
            Named("sweep: stalled waiting", "StalledWaiting", ("@max", 10_000)),
            Named("sweep: stalled upstream-failed", "StalledUpstreamFailed", ("@max", 10_000)),
            Named("history: completions, 15 min", "CompletionsSince", ("@since", (now - TimeSpan.FromMinutes(15)).ToUnixTimeSeconds())),
            Named("history: failures, 15 min", "FailuresSince", ("@since", (now - TimeSpan.FromMinutes(15)).ToUnixTimeSeconds())),
            Named("history: queue depth, 15 min", "QueueDepthSince", ("@since", (now - TimeSpan.FromMinutes(15)).ToUnixTimeSeconds())),
            Named("graph: the task", "GraphNode", ("@id", id)),
            Named("graph: upstream level", "GraphUpstream", ("@seqs", $"[{seq},{Math.Max(1, seq - 1)}]"), ("@max", 101)),
            Named("graph: downstream level", "GraphDownstream", ("@seqs", $"[{seq},{Math.Max(1, seq - 1)}]"), ("@max", 101)),
            Named("write: task update", "UpdateTask", ("@status", "COMPLETED"), ("@attempts", 1), ("@worker_id", null), ("@attempt_silo", null),
                ("@grant_id", 0), ("@pending_deps", 0), ("@queued_at", null), ("@started_at", null), ("@completed_at", null), ("@due_at", null),
                ("@due_kind", null), ("@result", null), ("@error", null), ("@seq", seq), ("@version", -1)),
            Named("write: release a holder", "DeleteHolder", ("@slot_no", -1)),
        ];
    }

    private static SqliteCommand Command(SqliteConnection connection, Statement statement, string prefix = "")
    {
        var command = connection.CreateCommand();
        command.CommandText = prefix + statement.Sql;
        foreach (var (name, value) in statement.Parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static SqliteConnection OpenReadOnly(string database)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>EXPLAIN QUERY PLAN of each statement on <paramref name="database"/>, one line each,
    /// with <see cref="Flag"/>'s mark.</summary>
    public static List<(string Name, string Plan)> Plans(string database)
    {
        var plans = new List<(string, string)>();
        using var connection = OpenReadOnly(database);
        foreach (var statement in Statements(connection))
        {
            using var command = Command(connection, statement, "EXPLAIN QUERY PLAN ");
            using var reader = command.ExecuteReader();
            var steps = new List<string>();
            while (reader.Read())
            {
                steps.Add(reader.GetString(3));
            }

            var plan = string.Join("; ", steps);
            plans.Add((statement.Name, plan + Flag(plan, statement.Sql)));
        }

        return plans;
    }

    /// <summary>Each read statement run directly on the database (no HTTP), median of 5 runs in ms,
    /// with its plan: how the read paths cost with the rows a drain left behind.</summary>
    public static List<(string Name, double Ms, string Plan)> TimeStatements(string database)
    {
        var plans = Plans(database).ToDictionary(p => p.Name, p => p.Plan, StringComparer.Ordinal);
        var result = new List<(string, double, string)>();
        using var connection = OpenReadOnly(database);
        foreach (var statement in Statements(connection).Where(s => !s.Writes))
        {
            var times = new List<double>();
            for (var i = 0; i < 5; i++)
            {
                using var command = Command(connection, statement);
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
            result.Add((statement.Name, times[2], plans[statement.Name]));
        }

        return result;
    }

    /// <summary>Tables that stay small whatever is stored: fine to scan (the per-second counters and
    /// samples hold at most an hour).
    /// (json_each is the graph walk's own list of seqs, at most a level of the walk.)</summary>
    private static readonly string[] SmallTables =
        ["status_counts", "completions_per_second", "failures_per_second", "queue_depth_samples", "slot_holders", "concurrency", "orleans_reminders", "json_each", "CONSTANT"];

    /// <summary>Marks what grows with the tables: a scan of anything but a small table (plans name
    /// a table by its alias in the statement, so every scan is suspect unless named small), or a
    /// sort of every matching row. A scan in an index's order under a LIMIT (the grant scan reads
    /// tasks_ready from its head) stops after LIMIT rows, and is marked as such instead.</summary>
    public static string Flag(string plan, string sql)
    {
        var steps = plan.Split("; ");
        var scans = steps.Where(step => step.StartsWith("SCAN ", StringComparison.Ordinal)
            && !SmallTables.Contains(step["SCAN ".Length..].Split(' ')[0], StringComparer.Ordinal)).ToList();
        var limited = sql.Contains("LIMIT", StringComparison.OrdinalIgnoreCase);
        if (scans.Any(step => !(limited && step.Contains(" USING ", StringComparison.Ordinal) && step.Contains("INDEX", StringComparison.Ordinal))))
        {
            return "  <- scans a table";
        }

        if (steps.Any(step => step.Contains("TEMP B-TREE", StringComparison.Ordinal)))
        {
            return "  <- sorts every matching row";
        }

        return scans.Count > 0 ? "  (index order, stops at LIMIT)" : "";
    }

    /// <summary>Starts the WebApi on the database (co-hosting its silo: on SQLite there is no pure
    /// front end; nothing is due, so the silo is idle) and times the read endpoints.</summary>
    public static async Task MeasureAsync(string database, long stored, Report report)
    {
        foreach (var (name, plan) in Plans(database))
        {
            report.Add("api", "plan: " + name, double.NaN, "", note: plan);
        }

        var port = Child.FreePort();
        using var server = Child.Start("WebApi", new Dictionary<string, string>
        {
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["DATABASE_URL"] = database,
            ["LOG_LEVEL"] = "warning",
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

        report.Add("api", "tasks stored", stored, "tasks", note: "the WebApi (co-hosting its idle silo) on the memory scenario's database");
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

        await MeasureDashboardAsync(client, report);

        report.Add("api", "WebApi peak RSS", ThreadCpu.MemoryMb(server.Pid, "VmHWM"), "MB");
    }

    /// <summary>The dashboard's charts and graph (issue 10, point 7) on the big database: the history
    /// and run-time endpoints, and the graph of a 101-task DAG (a root, 10 dependents, 9 dependents
    /// each; the root a year ahead, so nothing runs) submitted among the stored tasks.</summary>
    private static async Task MeasureDashboardAsync(HttpClient client, Report report)
    {
        var later = DateTimeOffset.UtcNow.AddYears(1).ToString("O", CultureInfo.InvariantCulture);
        var dag = new List<object> { new { id = "probe-root", type = "noop", run_at = later } };
        for (var i = 0; i < 10; i++)
        {
            dag.Add(new { id = $"probe-mid-{i}", type = "noop", dependencies = new[] { "probe-root" } });
            for (var j = 0; j < 9; j++)
            {
                dag.Add(new { id = $"probe-leaf-{i}-{j}", type = "noop", dependencies = new[] { $"probe-mid-{i}" } });
            }
        }

        using (var submitted = await client.PostAsync(new Uri("/api/tasks/batch", UriKind.Relative),
            new StringContent(System.Text.Json.JsonSerializer.Serialize(dag), System.Text.Encoding.UTF8, "application/json")))
        {
            if (submitted.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"POST /api/tasks/batch of the graph probe: {(int)submitted.StatusCode} {await submitted.Content.ReadAsStringAsync()}");
            }
        }

        foreach (var (label, path) in new[]
        {
            ("GET /api/stats/history?minutes=15", "/api/stats/history?minutes=15"),
            ("GET /api/stats/history?minutes=60&step=1", "/api/stats/history?minutes=60&step=1"),
            ("GET /api/stats/run-times", "/api/stats/run-times"),
            ("GET graph of a root (100 of 101 nodes, depth 3)", "/api/tasks/probe-root/graph?depth=3"),
            ("GET graph of a middle task (depth 3)", "/api/tasks/probe-mid-4/graph?depth=3"),
            ("GET graph of a task without edges", "/api/tasks/m0/graph?depth=3"),
        })
        {
            for (var i = 0; i < 10; i++)
            {
                await TimeAsync(client, path);
            }

            var runs = new List<double>();
            for (var i = 0; i < 100; i++)
            {
                runs.Add((await TimeAsync(client, path)).Ms);
            }

            Percentiles(report, label, runs, "100 sequential requests after 10 warm-up");
        }
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
