using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using OrleansScheduler.EndToEnd.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>A cluster of real processes on a fresh PostgreSQL database: N silo processes
/// (`dotnet OrleansScheduler.Silo.dll`, Silo__SiloId silo-1..N) and one WebApi front end
/// (Silo__Enabled=false, an Orleans client) on a free port. They form an Orleans cluster through
/// the membership table in that database, with the failure detection the product configures
/// (SchedulerSiloExtensions.TuneFailureDetection); a test may add settings. Waits go through
/// <see cref="WaitAsync{T}"/>, which on a timeout adds what the cluster looks like: every task's
/// status, /api/stats, /api/workers and each process's last output lines. Disposing kills every
/// process, writes their output to the test log and drops the database.</summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    /// <summary>Cluster-wide slots: two per silo on average.</summary>
    public const int MaxConcurrentTasks = 6;

    /// <summary>Npgsql connections per process: the server is shared with other test projects.</summary>
    public const int PoolPerProcess = 10;

    /// <summary>How long a wait on the cluster may take before the test fails.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly ITestOutputHelper _log;
    private readonly string _server;
    private readonly List<ServerProcess> _silos = [];

    private readonly Dictionary<string, string> _extra;

    private ProcessCluster(string server, string database, string folder, ITestOutputHelper log, Dictionary<string, string> extra)
    {
        _server = server;
        Database = database;
        Folder = folder;
        _log = log;
        _extra = extra;
        FrontEnd = ServerProcess.WebApi("front-end", folder, DatabaseUrl("front-end"), ListenPort(), Settings(new() { ["Silo__Enabled"] = "false" }));
        Api = new ApiClient(FrontEnd.BaseAddress, () => Outputs(30));
        _probe = new ApiClient(FrontEnd.BaseAddress, () => "", ProbeTimeout);
    }

    /// <summary>How long a probing request may take: a request the front end routed to a silo that
    /// is frozen waits for Orleans' response timeout (30 s), and a poll must not wait with it.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    private readonly ApiClient _probe;

    /// <summary>The database's connection string (DATABASE_URL of every process).</summary>
    public string Database { get; }

    public string Folder { get; }

    public IReadOnlyList<ServerProcess> Silos => _silos;

    public ServerProcess FrontEnd { get; }

    public ApiClient Api { get; }

    /// <summary>Creates a database on <paramref name="server"/>, starts <paramref name="silos"/>
    /// silos and the front end on it (every process with <paramref name="settings"/> too), and
    /// waits until the front end is ready and lists every silo ACTIVE.</summary>
    public static async Task<ProcessCluster> StartAsync(string server, ITestOutputHelper log, int silos = 3, Dictionary<string, string>? settings = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        var database = await TestPostgres.CreateDatabaseAsync(server);
        var folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-e2e", "cluster-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var cluster = new ProcessCluster(server, database, folder, log, settings ?? []);
        try
        {
            for (var i = 1; i <= silos; i++)
            {
                var id = $"silo-{i}";
                cluster._silos.Add(ServerProcess.Silo(id, folder, cluster.DatabaseUrl(id), cluster.Settings(new()
                {
                    ["Silo__SiloId"] = id,
                    ["Silo__SiloPort"] = ListenPort().ToString(CultureInfo.InvariantCulture),
                    ["Silo__GatewayPort"] = ListenPort().ToString(CultureInfo.InvariantCulture),
                })));
            }

            foreach (var silo in cluster._silos)
            {
                silo.Start();
            }

            cluster.FrontEnd.Start();
            await cluster.Api.WaitReadyAsync(cluster.FrontEnd, Patience);
            var ids = cluster._silos.Select(s => s.Name).ToList();
            var (exited, _) = await cluster.WaitAsync(
                $"/api/workers lists {string.Join(", ", ids)} ACTIVE",
                async () => (Exited: cluster._silos.Where(s => !s.IsRunning).Select(s => s.Name).ToList(), Workers: await cluster.WorkersAsync()),
                s => s.Exited.Count > 0 || ids.All(id => s.Workers.Any(w => (string?)w["id"] == id && (string?)w["status"] == "ACTIVE")),
                s => new JsonArray([.. s.Workers.Select(w => w.DeepClone())]).ToJsonString());
            Assert.True(exited.Count == 0, $"{string.Join(", ", exited)} exited while the cluster started\n{cluster.Outputs(60)}");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>A port to listen on that nobody listens on now, below Linux's ephemeral range
    /// (32768-60999): a port from that range (what binding port 0 hands out) may be taken, between the
    /// pick and the process's own bind, by any outgoing connection on the machine, such as a silo's
    /// connections to PostgreSQL while it migrates, and the silo then fails to start.</summary>
    public static int ListenPort()
    {
        for (var tries = 0; ; tries++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            try
            {
                using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (System.Net.Sockets.SocketException) when (tries < 100)
            {
                // Taken; try another.
            }
        }
    }

    /// <summary>A process's DATABASE_URL: the database, with the process's name as Application Name,
    /// so pg_stat_activity tells whose session is whose, and a small pool.</summary>
    public string DatabaseUrl(string process) =>
        new Npgsql.NpgsqlConnectionStringBuilder(Database) { ApplicationName = process, MaxPoolSize = PoolPerProcess }.ConnectionString;

    /// <summary>The settings every process of the cluster gets (the limit, and whatever the test
    /// added), plus its own.</summary>
    public Dictionary<string, string> Settings(Dictionary<string, string> own)
    {
        ArgumentNullException.ThrowIfNull(own);
        var settings = new Dictionary<string, string>
        {
            ["Scheduler__MaxConcurrentTasks"] = MaxConcurrentTasks.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in _extra.Concat(own))
        {
            settings[key] = value;
        }

        return settings;
    }

    public ServerProcess Silo(string id) =>
        _silos.SingleOrDefault(s => s.Name == id) ?? throw new InvalidOperationException($"No silo process named {id}: {string.Join(", ", _silos.Select(s => s.Name))}");

    /// <summary>Polls until <paramref name="done"/>; on a timeout fails with the last state seen and
    /// a description of the whole cluster.</summary>
    public async Task<T> WaitAsync<T>(string what, Func<Task<T>> probe, Func<T, bool> done, Func<T, string> describe, TimeSpan? timeout = null)
    {
        try
        {
            return await Poll.UntilAsync(what, probe, done, describe, timeout ?? Patience);
        }
        catch (XunitException ex)
        {
            throw new XunitException($"{ex.Message}{Environment.NewLine}{await DescribeAsync()}");
        }
    }

    /// <summary>Orleans' membership table (orleans_membership, sql/postgresql/0004): every silo
    /// incarnation of this cluster, oldest first.</summary>
    public async Task<List<MembershipRow>> MembershipAsync()
    {
        await using var connection = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(Database) { Pooling = false, Timeout = 5 }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT silo_name, address, port, generation, status, suspect_times, i_am_alive FROM orleans_membership ORDER BY start_time, silo_name", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<MembershipRow>();
        while (await reader.ReadAsync())
        {
            rows.Add(new MembershipRow(
                reader.GetString(0),
                $"{reader.GetString(1)}:{reader.GetInt32(2)}@{reader.GetInt32(3)}",
                reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.GetFieldValue<DateTimeOffset>(6)));
        }

        return rows;
    }

    /// <summary>/api/workers; empty while the front end cannot answer it (503 while a dead silo's
    /// grains are unreachable, before its death is known).</summary>
    public async Task<List<JsonObject>> WorkersAsync()
    {
        var (status, body) = await _probe.TryGetAsync("/api/workers");
        return status == 200 ? JsonNode.Parse(body)!.AsArray().Select(w => w!.AsObject()).ToList() : [];
    }

    /// <summary>/api/stats slots.holders: which task holds a slot, on which silo, in which attempt.</summary>
    public async Task<List<(string Task, string Silo, int Attempt)>> SlotHoldersAsync()
    {
        var stats = await Api.GetAsync("/api/stats");
        return stats["slots"]!["holders"]!.AsArray()
            .Select(h => ((string)h!["task_id"]!, (string)h["silo_id"]!, (int)h["attempt"]!))
            .ToList();
    }

    /// <summary>Waits until every slot is held by an attempt that started on a silo (a granted slot
    /// names its silo once the task took it up) and answers the holders.</summary>
    public Task<List<(string Task, string Silo, int Attempt)>> WaitAllSlotsRunningAsync() =>
        WaitAsync(
            $"all {MaxConcurrentTasks} slots are held by running attempts",
            SlotHoldersAsync,
            h => h.Count == MaxConcurrentTasks && h.All(x => x.Silo.Length > 0),
            h => $"{h.Count} holders: {string.Join(", ", h)}");

    /// <summary>GET /api/tasks/{id} of each task, as (id, status, worker); a task that cannot be read
    /// now (503 while the silo that had it is not yet declared dead) has the answer's status code as
    /// its status.</summary>
    public async Task<List<(string Id, string Status, string? Worker)>> TaskStatesAsync(IEnumerable<string> ids) =>
        [.. await Task.WhenAll(ids.Select(async id =>
        {
            var (status, body) = await _probe.TryGetAsync($"/api/tasks/{Uri.EscapeDataString(id)}");
            if (status != 200)
            {
                return (id, status.ToString(CultureInfo.InvariantCulture), (string?)null);
            }

            var task = JsonNode.Parse(body)!;
            return (id, (string)task["status"]!, (string?)task["worker_id"]);
        }))];

    /// <summary>The requests of <paramref name="urls"/> that the front end did not answer with 200
    /// within <see cref="ProbeTimeout"/>, as "url: status" (0: no answer in time).</summary>
    public async Task<List<string>> UnansweredAsync(IEnumerable<string> urls) =>
        [.. (await Task.WhenAll(urls.Select(async url => (Url: url, Answer: await _probe.TryGetAsync(url)))))
            .Where(r => r.Answer.Status != 200)
            .Select(r => $"{r.Url}: {r.Answer.Status}")];

    /// <summary>/api/tasks/{id}/events, oldest first.</summary>
    public async Task<IReadOnlyList<TaskEventRecord>> EventsAsync(string id) =>
        (await Api.GetArrayAsync($"/api/tasks/{Uri.EscapeDataString(id)}/events")).Select(e => TaskEventRecord.Parse(e!.AsObject())).ToList();

    /// <summary>Every task's events, by task id.</summary>
    public async Task<Dictionary<string, IReadOnlyList<TaskEventRecord>>> EventsAsync(IEnumerable<string> ids)
    {
        var events = new Dictionary<string, IReadOnlyList<TaskEventRecord>>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            events[id] = await EventsAsync(id);
        }

        return events;
    }

    /// <summary>Waits until every task of <paramref name="ids"/> is COMPLETED and answers every
    /// task the cluster holds.</summary>
    public Task<List<JsonObject>> WaitAllCompletedAsync(IReadOnlyCollection<string> ids, TimeSpan? timeout = null) =>
        WaitAsync(
            $"all {ids.Count} acknowledged tasks are COMPLETED",
            Api.AllTasksAsync,
            tasks =>
            {
                var completed = tasks.Where(t => (string?)t["status"] == "COMPLETED").Select(t => (string)t["id"]!).ToHashSet(StringComparer.Ordinal);
                return ids.All(completed.Contains);
            },
            tasks => $"missing: [{string.Join(", ", ids.Except(tasks.Select(t => (string)t["id"]!), StringComparer.Ordinal))}], not COMPLETED: [{string.Join(", ", tasks.Where(t => (string?)t["status"] != "COMPLETED").Select(t => $"{t["id"]}={t["status"]}"))}]",
            timeout);

    /// <summary>Asserts that every task has exactly one RUNNING->COMPLETED event (so no late report
    /// completed it a second time) and ends COMPLETED; answers the events by task.</summary>
    public async Task<Dictionary<string, IReadOnlyList<TaskEventRecord>>> AssertCompletedExactlyOnceAsync(IReadOnlyCollection<string> ids)
    {
        var events = await EventsAsync(ids);
        var wrong = events
            .Where(e => e.Value.Count(v => v.From == "RUNNING" && v.To == "COMPLETED") != 1 || e.Value[^1].To != "COMPLETED")
            .Select(e => $"{e.Key}:{Environment.NewLine}{TaskEventRecord.Describe(e.Value)}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} tasks do not have exactly one RUNNING->COMPLETED event ending them:{Environment.NewLine}{string.Join(Environment.NewLine, wrong)}");
        return events;
    }

    /// <summary>Most attempts RUNNING at one time, from the recorded transitions. A slot's release
    /// and its next grant may share a timestamp: ends sort before starts.</summary>
    public static int MaxRunning(IEnumerable<IReadOnlyList<TaskEventRecord>> histories)
    {
        var points = histories.SelectMany(h => h)
            .Where(e => e.To == "RUNNING" || e.From == "RUNNING")
            .Select(e => (e.At, Delta: e.To == "RUNNING" ? +1 : -1))
            .OrderBy(p => p.At).ThenBy(p => p.Delta);
        var (running, max) = (0, 0);
        foreach (var (_, delta) in points)
        {
            running += delta;
            max = Math.Max(max, running);
        }

        return max;
    }

    /// <summary>Every task's status, /api/stats, /api/workers and each process's last output lines;
    /// whatever cannot be read (the database or the front end is down) says why.</summary>
    public async Task<string> DescribeAsync()
    {
        var text = new StringBuilder();
        text.AppendLine("=== the cluster ===");
        try
        {
            var tasks = await Api.AllTasksAsync();
            text.AppendLine(CultureInfo.InvariantCulture, $"tasks ({tasks.Count}): {string.Join(", ", tasks.Select(t => $"{t["id"]}={t["status"]}/a{t["attempts"]}@{t["worker_id"]}"))}");
        }
        catch (Exception ex) when (ex is XunitException or HttpRequestException or TaskCanceledException)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"tasks: could not list: {ex.Message.Split('\n')[0]}");
        }

        foreach (var url in new[] { "/api/stats", "/api/workers" })
        {
            var (status, body) = await Api.TryGetAsync(url);
            text.AppendLine(CultureInfo.InvariantCulture, $"{url}: {status} {body}");
        }

        try
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"membership: {MembershipRow.Describe(await MembershipAsync())}");
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"membership: could not read: {ex.Message}");
        }

        text.AppendLine(await SessionsAsync());
        text.AppendLine(Outputs(60));
        return text.ToString();
    }

    /// <summary>The database's sessions (pg_stat_activity): which hold a transaction open, which
    /// wait, on whom. A stopped process's session stays open with whatever it held.</summary>
    public async Task<string> SessionsAsync()
    {
        var text = new StringBuilder("sessions on the test database (pg_stat_activity):");
        try
        {
            await using var admin = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(_server) { Pooling = false, Timeout = 5 }.ConnectionString);
            await admin.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand("""
                SELECT pid, application_name, state, extract(epoch FROM now() - xact_start)::float8, wait_event_type, wait_event,
                       pg_blocking_pids(pid)::text, left(regexp_replace(query, '\s+', ' ', 'g'), 160)
                FROM pg_stat_activity WHERE datname = @db AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST, pid
                """, admin);
            command.Parameters.AddWithValue("db", new Npgsql.NpgsqlConnectionStringBuilder(Database).Database!);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                text.AppendLine().Append(CultureInfo.InvariantCulture,
                    $"  pid {reader.GetInt32(0)} {(reader.IsDBNull(1) ? "-" : reader.GetString(1))} {(reader.IsDBNull(2) ? "-" : reader.GetString(2))}" +
                    $" xact {(reader.IsDBNull(3) ? "-" : $"{reader.GetDouble(3):0.0} s")} wait {(reader.IsDBNull(4) ? "-" : $"{reader.GetString(4)}/{reader.GetString(5)}")}" +
                    $" blocked by {reader.GetString(6)}: {(reader.IsDBNull(7) ? "" : reader.GetString(7))}");
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            text.Append(CultureInfo.InvariantCulture, $" could not read: {ex.Message}");
        }

        return text.ToString();
    }

    /// <summary>Each process's last output lines.</summary>
    public string Outputs(int lines) =>
        string.Join(Environment.NewLine, _silos.Append(FrontEnd).Select(p => p.Output(lines)));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _silos.Append(FrontEnd))
        {
            process.Dispose();
        }

        Api.Dispose();
        _probe.Dispose();
        foreach (var process in _silos.Append(FrontEnd))
        {
            _log.WriteLine(process.Output(150));
        }

        // ORLEANS_E2E_LOGS=<folder> keeps every process's whole output there, for a look at a run.
        if (Environment.GetEnvironmentVariable("ORLEANS_E2E_LOGS") is { Length: > 0 } logs)
        {
            Directory.CreateDirectory(logs);
            foreach (var process in _silos.Append(FrontEnd))
            {
                await File.WriteAllLinesAsync(Path.Combine(logs, $"{Path.GetFileName(Folder)}-{process.Name}.log"), process.Lines);
            }
        }

        try
        {
            await TestPostgres.DropDatabaseAsync(_server, Database);
        }
        catch (Npgsql.NpgsqlException ex)
        {
            _log.WriteLine($"could not drop the test database: {ex.Message}");
        }

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleanup.
        }
    }
}

/// <summary>One row of Orleans' membership table. <see cref="Status"/> is Orleans' SiloStatus.</summary>
public sealed record MembershipRow(string Silo, string Address, int Status, string? SuspectTimes, DateTimeOffset IAmAlive)
{
    public const int Active = 3;
    public const int Dead = 6;

    public string StatusName => Status switch
    {
        1 => "Joining",
        3 => "Active",
        4 => "ShuttingDown",
        5 => "Stopping",
        6 => "Dead",
        _ => Status.ToString(CultureInfo.InvariantCulture),
    };

    public static string Describe(IEnumerable<MembershipRow> rows) =>
        string.Join("; ", rows.Select(r => $"{r.Silo} {r.Address} {r.StatusName} alive {r.IAmAlive:HH:mm:ss.fff}{(r.SuspectTimes is { Length: > 0 } s ? $" suspected by {s}" : "")}"));
}

/// <summary>One entry of GET /api/tasks/{id}/events.</summary>
public sealed record TaskEventRecord(DateTimeOffset At, string? From, string To, string? Silo, int? Attempt, string? Reason)
{
    public static TaskEventRecord Parse(JsonObject e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new(
            DateTimeOffset.Parse((string)e["at"]!, CultureInfo.InvariantCulture),
            (string?)e["from"],
            (string)e["to"]!,
            (string?)e["silo_id"],
            (int?)e["attempt"],
            (string?)e["reason"]);
    }

    /// <summary>An attempt recorded lost because the silo that held it is gone (TaskGrain's "attempt
    /// lost: the silo that held its lease (...) is gone").</summary>
    public bool IsLeaseLost => From == "RUNNING" && Reason is { } reason && reason.Contains("attempt lost", StringComparison.Ordinal)
        && reason.Contains("lease", StringComparison.Ordinal);

    public static string Describe(IEnumerable<TaskEventRecord> events) =>
        string.Join(Environment.NewLine, events.Select(e => $"  {e.At:HH:mm:ss.fff} {e.From ?? "-"}->{e.To} silo={e.Silo ?? "-"} attempt={e.Attempt?.ToString(CultureInfo.InvariantCulture) ?? "-"} {e.Reason}"));
}
