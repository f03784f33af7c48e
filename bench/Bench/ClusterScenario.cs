using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace OrleansScheduler.Bench;

/// <summary>9. PostgreSQL, one silo against several: the drain and the handoff DAG. The silos are real
/// Orleans silos hosted in this process as src/Silo hosts one (UseOrleans + AddScheduler over its own
/// configuration, Silo:SiloId silo-1..n, free ports): they find each other through Orleans' ADO.NET
/// membership table in the database, and each has its own grain storage writers and connection pool
/// (a distinct Application Name keeps Npgsql's pools apart, as separate processes would have them).
/// Every run gets a fresh database (CREATE DATABASE, dropped after) on the server
/// ORLEANS_TEST_POSTGRES names.</summary>
public static class ClusterScenario
{
    public const string Variable = "ORLEANS_TEST_POSTGRES";

    public static async Task RunAsync(Options options, Report report)
    {
        var tasks = options.Int("cluster-tasks", 20_000, quick: 10_000);
        var slots = options.Int("cluster-slots", 1000);
        var many = options.Int("cluster-silos", 3);
        var chains = options.Int("cluster-handoff-chains", 20, allowZero: true);
        var length = options.Int("cluster-handoff-length", 50);
        var fans = options.Int("cluster-handoff-fans", 10, allowZero: true);
        var width = options.Int("cluster-handoff-width", 50);
        var server = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(server))
        {
            var why = $"skipped: {Variable} is not set, so there is no PostgreSQL server to run on (`. .ci/postgres.sh` starts one and sets it)";
            Console.WriteLine("   " + why);
            report.Add("cluster", "skipped", double.NaN, "", note: why);
            return;
        }

        report.Add("cluster", "server", double.NaN, "", note: await DescribeServerAsync(server));
        var roundTrip = await RoundTripAsync(server);
        report.Add("cluster", "round trip (SELECT 1) p50", roundTrip, "ms", note: "one pooled connection, 2,000 queries; a no-op task costs about 7 such round trips (ReadTask; UpdateTask + InsertEvent twice; its holder's upsert and delete), each group commit BEGIN, counters and COMMIT");
        if (!options.Flag("no-warmup"))
        {
            // JIT of the PostgreSQL store's paths (the SQLite warm-up does not reach them).
            await DrainAsync(server, 3_000, slots, 1, options);
        }

        var counts = many == 1 ? new[] { 1 } : new[] { 1, many };
        var rates = new Dictionary<int, double>();
        foreach (var silos in counts)
        {
            var drain = await DrainAsync(server, tasks, slots, silos, options);
            rates[silos] = drain.Rate;
            var target = silos == 1 ? "" : $"; x{drain.Rate / rates[1]:F2} of 1 silo";
            report.Add("cluster", $"drain, {silos} silo{(silos == 1 ? "" : "s")}", drain.Rate, "tasks/s",
                note: $"{tasks:N0} tasks in {drain.Seconds:F2} s; machine CPU {drain.MachineCores:F2} of {Environment.ProcessorCount} cores (silos {drain.BenchCores:F2}); per silo {drain.Spread}{target}; load average after {Report.LoadAverage()}");
        }

        foreach (var silos in counts)
        {
            var dag = HandoffDag.Build(chains, length, fans, width);
            var (all, byKind, makespan, spread) = await HandoffAsync(server, dag, slots, silos, options);
            var name = $"{silos} silo{(silos == 1 ? "" : "s")}";
            // Issue 9 sets no cluster targets; the SQLite one-silo targets are named for comparison.
            report.Add("cluster", $"handoff p50, {name}", Stats.Percentile(all, 50), "ms", note: "one-silo SQLite target < 3 ms");
            report.Add("cluster", $"handoff p99, {name}", Stats.Percentile(all, 99), "ms", note: "one-silo SQLite target < 30 ms");
            report.Add("cluster", $"handoff max, {name}", all.Count == 0 ? double.NaN : all[^1], "ms",
                note: $"{dag.Describe}; " + string.Join(", ", byKind.Select(k => $"{k.Key} p50 {Stats.Percentile(k.Value, 50):F2} / p99 {Stats.Percentile(k.Value, 99):F2}")) + $"; makespan {makespan:N0} ms; per silo {spread}");
        }
    }

    private sealed record DrainFigures(double Rate, double Seconds, double MachineCores, double BenchCores, string Spread);

    private static async Task<DrainFigures> DrainAsync(string server, int tasks, int slots, int silos, Options options)
    {
        await using var database = await PgDatabase.CreateAsync(server, $"drain{silos}", options);
        await SubmitAsync(database.ConnectionString, slots, Enumerable.Range(0, tasks).Select(i => Rig.Spec($"t{i}")), 10_000);
        var recorder = new Recorder();
        var hosts = BuildSilos(database.ConnectionString, slots, silos, recorder);
        using var watcher = new PgWatcher(database.ConnectionString);
        var machine = new MachineCpu();
        var cpu = new ThreadCpu();
        long done;
        try
        {
            await Task.WhenAll(hosts.Select(h => h.StartAsync()));
            done = await watcher.WaitForTerminalAsync(tasks, TimeSpan.FromMinutes(30), pollMs: 2, label: $"cluster drain, {silos} silo(s)");
        }
        finally
        {
            await Task.WhenAll(hosts.Select(Rig.StopAsync));
        }

        var (benchCores, _) = cpu.Finish();
        var machineCores = machine.Finish();
        var seconds = Rig.Ms(recorder.FirstStart, done) / 1000.0;
        var spread = watcher.Spread();
        Console.WriteLine($"   cluster drain, {silos} silo(s): {tasks:N0} in {seconds:F2} s = {tasks / seconds:N0}/s; machine {machineCores:F2} cores; {spread}");
        return new DrainFigures(tasks / seconds, seconds, machineCores, benchCores, spread);
    }

    private static async Task<(List<double> All, SortedDictionary<string, List<double>> ByKind, double MakespanMs, string Spread)> HandoffAsync(
        string server, HandoffDag dag, int slots, int silos, Options options)
    {
        await using var database = await PgDatabase.CreateAsync(server, $"handoff{silos}", options);
        await SubmitAsync(database.ConnectionString, slots, dag.Specs, dag.Specs.Count);
        var recorder = new Recorder();
        var hosts = BuildSilos(database.ConnectionString, slots, silos, recorder);
        using var watcher = new PgWatcher(database.ConnectionString);
        long done;
        try
        {
            await Task.WhenAll(hosts.Select(h => h.StartAsync()));
            done = await watcher.WaitForTerminalAsync(dag.Specs.Count, TimeSpan.FromMinutes(10), pollMs: 2, label: $"cluster handoff, {silos} silo(s)");
        }
        finally
        {
            await Task.WhenAll(hosts.Select(Rig.StopAsync));
        }

        var (all, byKind) = dag.Analyse(recorder);
        var spread = watcher.Spread();
        Console.WriteLine($"   cluster handoff, {silos} silo(s): p50 {Stats.Percentile(all, 50):F2} ms, p99 {Stats.Percentile(all, 99):F2} ms; {spread}");
        return (all, byKind, Rig.Ms(recorder.FirstStart, done), spread);
    }

    /// <summary>Orleans silos silo-1..n on the database, each with a connection string of its own
    /// (Application Name), so each has its own Npgsql pool as a process of its own would.</summary>
    private static List<IHost> BuildSilos(string connectionString, int slots, int silos, Recorder recorder) =>
        Enumerable.Range(1, silos)
            .Select(i => Rig.BuildSilo(
                new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = $"bench-silo-{i}" }.ConnectionString,
                slots, recorder, $"silo-{i}"))
            .ToList();

    /// <summary>Submits through a store-only host (no silo), as the drain does on SQLite.</summary>
    private static async Task SubmitAsync(string connectionString, int slots, IEnumerable<TaskSpec> specs, int chunk)
    {
        var store = await Rig.StartStoreAsync(connectionString, slots);
        try
        {
            await Rig.SubmitAsync(store, specs, chunk);
        }
        finally
        {
            await Rig.StopAsync(store);
        }
    }

    private static async Task<double> RoundTripAsync(string server)
    {
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.PrepareAsync();
        var times = new List<double>(2000);
        for (var i = 0; i < 2200; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await command.ExecuteScalarAsync();
            if (i >= 200)
            {
                times.Add(Rig.Ms(start, Stopwatch.GetTimestamp()));
            }
        }

        times.Sort();
        return Stats.Percentile(times, 50);
    }

    private static async Task<string> DescribeServerAsync(string server)
    {
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        var parts = new List<string>();
        foreach (var setting in new[] { "server_version", "fsync", "synchronous_commit", "shared_buffers", "max_connections" })
        {
            await using var command = new NpgsqlCommand($"SHOW {setting}", connection);
            parts.Add($"{setting}={await command.ExecuteScalarAsync()}");
        }

        var builder = new NpgsqlConnectionStringBuilder(server);
        return $"{builder.Host}:{builder.Port}, " + string.Join(", ", parts);
    }
}

/// <summary>A fresh database on the server, dropped (WITH FORCE) when disposed unless --keep-db.</summary>
public sealed class PgDatabase : IAsyncDisposable
{
    private readonly string _server;
    private readonly string _name;
    private readonly bool _keep;

    private PgDatabase(string server, string name, bool keep)
    {
        _server = server;
        _name = name;
        _keep = keep;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    public string ConnectionString { get; }

    public static async Task<PgDatabase> CreateAsync(string server, string label, Options options)
    {
        var name = $"bench_{label}_{Guid.NewGuid().ToString("N")[..12]}";
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        return new PgDatabase(server, name, options.Flag("keep-db"));
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_keep)
        {
            Console.WriteLine($"   kept database {_name}");
            return;
        }

        await using var admin = new NpgsqlConnection(_server);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}

/// <summary>PostgreSQL: the status counters (16 shards per status) from a connection of its own.</summary>
public sealed class PgWatcher : Watcher
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlCommand _terminal;

    public PgWatcher(string connectionString)
    {
        _connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        _connection.Open();
        _terminal = new NpgsqlCommand("SELECT coalesce(sum(count), 0)::bigint FROM status_counts WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'UPSTREAM_FAILED')", _connection);
        _terminal.Prepare();
    }

    public override long Terminal() => Convert.ToInt64(_terminal.ExecuteScalar(), CultureInfo.InvariantCulture);

    public override long Scalar(string sql)
    {
        using var command = new NpgsqlCommand(sql, _connection);
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L, CultureInfo.InvariantCulture);
    }

    /// <summary>How many tasks each silo ran, "silo-1 6,712, silo-2 ...", then the tasks by
    /// status, how many attempts were recorded as lost (a silo declared dead while it ran them) and
    /// how many handed back (no-op tasks should all complete on their first attempt).</summary>
    public string Spread() =>
        Rows("SELECT coalesce(worker_id, '-'), count(*) FROM tasks GROUP BY 1 ORDER BY 1") + "; "
        + Rows("SELECT status, count(*) FROM tasks GROUP BY 1 ORDER BY 1") + "; lost attempts "
        + Scalar("SELECT count(*) FROM task_events WHERE reason LIKE '%attempt lost%'").ToString("N0", CultureInfo.InvariantCulture)
        + ", handed back "
        + Scalar("SELECT count(*) FROM task_events WHERE reason LIKE '%handed back%'").ToString("N0", CultureInfo.InvariantCulture);

    private string Rows(string sql)
    {
        using var command = new NpgsqlCommand(sql, _connection);
        using var reader = command.ExecuteReader();
        var parts = new List<string>();
        while (reader.Read())
        {
            parts.Add($"{reader.GetString(0)} {reader.GetInt64(1):N0}");
        }

        return string.Join(", ", parts);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _terminal.Dispose();
            _connection.Dispose();
        }
    }
}

/// <summary>The whole machine's CPU from /proc/stat: cores busy over the interval (the bench, the
/// silos, PostgreSQL and whatever else runs).</summary>
public sealed class MachineCpu
{
    private readonly (long Busy, long Total) _before = Sample();

    public double Finish()
    {
        var after = Sample();
        var total = after.Total - _before.Total;
        return total <= 0 ? double.NaN : (double)(after.Busy - _before.Busy) / total * Environment.ProcessorCount;
    }

    private static (long Busy, long Total) Sample()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var idle = fields[3] + fields[4]; // idle + iowait
            var total = fields.Take(8).Sum();
            return (total - idle, total);
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }
}
