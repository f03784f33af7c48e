using System.Collections.Concurrent;
using Npgsql;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Postgres;

/// <summary>What only a shared PostgreSQL does: several store instances (as several silo
/// processes would open) on one database. Each test has its own schema in this class's database;
/// the tests of one class run one after another, so notifications never cross between them.</summary>
public sealed class PostgresStoreClusterTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private static CancellationToken None => CancellationToken.None;
    private readonly List<PostgresTaskStore> _opened = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Two_stores_claiming_concurrently_never_exceed_the_slots_nor_claim_a_task_twice()
    {
        const int limit = 5;
        const int tasks = 150;
        var connection = await database.SchemaAsync(nameof(Two_stores_claiming_concurrently_never_exceed_the_slots_nor_claim_a_task_twice));
        var silos = new[] { await OpenAsync(connection, limit), await OpenAsync(connection, limit) };
        await silos[0].SubmitAsync(Specs.Plan(Enumerable.Range(0, tasks).Select(i => Specs.Task($"t{i:000}")).ToArray()), None);

        // Four dispatchers per store. A lease enters `held` after its claim committed and leaves it
        // before its report is sent, so `held` is always a subset of what the database holds.
        var held = new ConcurrentDictionary<string, AttemptLease>();
        var claimed = new ConcurrentBag<AttemptLease>();
        var peak = 0;
        var violations = new ConcurrentBag<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var workers = silos.SelectMany((store, s) => Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var silo = $"silo-{s}-{w}";
            while (!timeout.IsCancellationRequested)
            {
                var leases = await store.ClaimAsync(silo, 3, None);
                if (leases.Count == 0)
                {
                    var stats = await store.GetStatsAsync(None);
                    if (stats.Counts[TaskStatus.Queued] == 0 && stats.Counts[TaskStatus.Running] == 0)
                    {
                        return;
                    }

                    await Task.Yield();
                    continue;
                }

                foreach (var lease in leases)
                {
                    claimed.Add(lease);
                    if (!held.TryAdd(lease.TaskId, lease))
                    {
                        violations.Add($"{lease.TaskId} claimed while another attempt of it runs");
                    }
                }

                var now = held.Count;
                InterlockedMax(ref peak, now);
                if (now > limit)
                {
                    violations.Add($"{now} attempts held at once, limit {limit}");
                }

                foreach (var lease in leases)
                {
                    held.TryRemove(lease.TaskId, out _);
                    if (!await store.ReportAsync(AttemptOutcome.Success(lease, null), None))
                    {
                        violations.Add($"the report of {lease.TaskId} attempt {lease.Attempt} was rejected");
                    }
                }
            }
        }))).ToArray();
        await Task.WhenAll(workers);

        Assert.Empty(violations);
        Assert.InRange(peak, 1, limit);
        Assert.Equal(tasks, claimed.Count);
        Assert.Equal(tasks, claimed.Select(l => l.TaskId).Distinct().Count());
        Assert.All(claimed, l => Assert.Equal(1, l.Attempt));
        Assert.Equal(2, claimed.Select(l => l.SiloId[..6]).Distinct().Count());
        var final = await silos[1].GetStatsAsync(None);
        Assert.Equal(tasks, final.Counts[TaskStatus.Completed]);
        Assert.Equal(tasks, final.Total);
        Assert.Equal(0, final.Slots.InUse);
    }

    [SkippableFact]
    public async Task Migrations_applied_concurrently_by_several_stores_run_once()
    {
        var connection = await database.SchemaAsync(nameof(Migrations_applied_concurrently_by_several_stores_run_once));
        var stores = Enumerable.Range(0, 6).Select(_ => Track(PostgresDatabase.Create(connection, 3))).ToList();

        await Task.WhenAll(stores.Select(s => s.InitializeAsync(None)));

        var versions = await QueryAsync(connection, "SELECT version, name FROM schema_version ORDER BY version", r => (r.GetInt32(0), r.GetString(1)));
        var files = Directory.GetFiles(Path.Combine(RepoRoot(), "sql", "postgresql"), "*.sql").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(files);
        Assert.Equal(files, versions.Select(v => v.Item2));
        Assert.Equal(versions.Count, versions.Select(v => v.Item1).Distinct().Count());
        // The seed rows of the first migration went in once: 8 statuses x 16 shards, 3 slots.
        Assert.Equal([128L], await QueryAsync(connection, "SELECT count(*) FROM status_counts", r => r.GetInt64(0)));
        Assert.Equal([3L], await QueryAsync(connection, "SELECT count(*) FROM slots", r => r.GetInt64(0)));
        foreach (var store in stores)
        {
            Assert.True(await store.PingAsync(None));
        }
    }

    [SkippableFact]
    public async Task A_notify_from_one_store_wakes_the_others_work_signal_and_cancels_its_handler()
    {
        var connection = await database.SchemaAsync(nameof(A_notify_from_one_store_wakes_the_others_work_signal_and_cancels_its_handler));
        var a = await OpenAsync(connection, 2);
        var bSignal = new WorkSignal();
        var bEvents = new StoreEvents();
        var b = await OpenAsync(connection, 2, signal: bSignal, events: bEvents);
        await DrainAsync(bSignal);
        await DrainAsync(bEvents.RemindersChanged);

        // A task became QUEUED in store A's process: store B's dispatcher wakes.
        await a.SubmitAsync(Specs.Plan(Specs.Task("ready")), None);
        Assert.True(await bSignal.WaitAsync(WaitLimit, TimeProvider.System, None), "store B's WorkSignal was not set by store A's commit");

        // A reminder was added in A: B's reminder service looks again.
        await a.SubmitAsync(Specs.Plan(Specs.Task("later") with { RunAt = DateTimeOffset.UtcNow.AddHours(1) }), None);
        Assert.True(await bEvents.RemindersChanged.WaitAsync(WaitLimit, TimeProvider.System, None), "store B's RemindersChanged was not set");

        // B runs a task and A cancels it: B hears which task to stop.
        var lease = Assert.Single(await b.ClaimAsync("silo-b", 1, None));
        var cancelled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        bEvents.RunningTaskCancelled += id => cancelled.TrySetResult(id);
        await DrainAsync(bSignal);
        Assert.Equal(TaskStatus.Cancelled, await a.CancelAsync(lease.TaskId, None));
        Assert.Equal("ready", await cancelled.Task.WaitAsync(WaitLimit));
        Assert.True(await bSignal.WaitAsync(WaitLimit, TimeProvider.System, None), "the freed slot did not wake store B");
    }

    [SkippableFact]
    public async Task A_dropped_listener_reconnects_by_itself_and_sets_the_signals_once()
    {
        var connection = await database.SchemaAsync(nameof(A_dropped_listener_reconnects_by_itself_and_sets_the_signals_once));
        var a = await OpenAsync(connection, 2);
        var bSignal = new WorkSignal();
        var b = await OpenAsync(connection, 2, signal: bSignal);
        var listener = b.Listener!;
        Assert.Equal(1, listener.Connections);
        await DrainAsync(bSignal);

        await listener.DropConnectionAsync();

        // Something may have been missed while it was down: the reconnect wakes the dispatcher.
        Assert.True(await bSignal.WaitAsync(WaitLimit, TimeProvider.System, None), "no wake-up after the reconnect");
        await WaitUntilAsync(() => Task.FromResult(listener.Connections == 2), "the listener did not reconnect");
        await DrainAsync(bSignal);
        await a.SubmitAsync(Specs.Plan(Specs.Task("after-reconnect")), None);
        Assert.True(await bSignal.WaitAsync(WaitLimit, TimeProvider.System, None), "a NOTIFY after the reconnect did not arrive");
    }

    [SkippableFact]
    public async Task Turns_survive_the_server_dropping_every_connection()
    {
        var connection = await database.SchemaAsync(nameof(Turns_survive_the_server_dropping_every_connection));
        var signal = new WorkSignal();
        var store = await OpenAsync(connection, 2, signal: signal);
        await store.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("b")), None);
        var listener = store.Listener!;

        // As a server restart would: every connection of this database (the pool's and the
        // listener's) is cut.
        await QueryAsync(connection,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()",
            r => r.GetBoolean(0));

        // The pooled connections are broken; the turn runs again on fresh ones.
        Assert.Equal(2, (await store.ClaimAsync("silo-a", 5, None)).Count);
        Assert.Equal(2, (await store.GetStatsAsync(None)).Counts[TaskStatus.Running]);
        await WaitUntilAsync(() => Task.FromResult(listener.Connections >= 2), "the listener did not reconnect");
    }

    [SkippableFact]
    public async Task A_reminder_that_fell_due_while_no_store_was_open_fires_at_the_next_start()
    {
        var connection = await database.SchemaAsync(nameof(A_reminder_that_fell_due_while_no_store_was_open_fires_at_the_next_start));
        var runAt = await DatabaseNowAsync(connection) + TimeSpan.FromSeconds(1);
        await using (var first = PostgresDatabase.Create(connection, 2))
        {
            await first.InitializeAsync(None);
            var submitted = await first.SubmitAsync(Specs.Plan(Specs.Task("later") with { RunAt = runAt }), None);
            Assert.Equal(TaskStatus.Scheduled, Assert.Single(submitted).Status);
        }

        // Every store is closed while the due time passes, by the database's clock.
        await WaitUntilAsync(async () => await DatabaseNowAsync(connection) > runAt, "the database's clock did not reach run_at");

        var second = await OpenAsync(connection, 2);
        Assert.Equal(TaskStatus.Scheduled, (await second.GetAsync("later", None))!.Status);
        Assert.Null(await second.FireRemindersAsync(100, None));

        Assert.Equal(TaskStatus.Queued, (await second.GetAsync("later", None))!.Status);
        var events = (await second.GetEventsAsync("later", None))!;
        Assert.Equal((TaskStatus.Scheduled, TaskStatus.Queued, "run_at reached"), (events[^1].From, events[^1].To, events[^1].Reason));
        Assert.Equal("later", Assert.Single(await second.ClaimAsync("silo-b", 5, None)).TaskId);
    }

    [SkippableFact]
    public async Task An_expired_lease_is_reclaimed_by_another_store_and_the_late_report_is_rejected()
    {
        var lease = TimeSpan.FromMilliseconds(400);
        var connection = await database.SchemaAsync(nameof(An_expired_lease_is_reclaimed_by_another_store_and_the_late_report_is_rejected));
        var dying = await OpenAsync(connection, 2, leaseDuration: lease);
        var survivor = await OpenAsync(connection, 2, leaseDuration: lease);
        await dying.SubmitAsync(Specs.Plan(
            Specs.Task("again") with { MaxAttempts = 2, RetryBackoffMs = 0 },
            Specs.Task("last-try") with { MaxAttempts = 1 },
            Specs.Task("child", "last-try")), None);
        var lost = (await dying.ClaimAsync("silo-dying", 2, None)).ToDictionary(l => l.TaskId);
        Assert.Equal(["again", "last-try"], lost.Keys.Order(StringComparer.Ordinal));

        // Opening another store does not treat the running attempts as orphans: their silo may live.
        Assert.Equal(TaskStatus.Running, (await survivor.GetAsync("again", None))!.Status);

        // silo-dying stops heartbeating; once the lease expires by the database's clock, the other
        // store's reminder pass reclaims both attempts.
        var next = await survivor.FireRemindersAsync(100, None);
        Assert.NotNull(next);
        await WaitUntilAsync(async () =>
        {
            await survivor.FireRemindersAsync(100, None);
            return (await survivor.GetAsync("again", None))!.Status == TaskStatus.Queued;
        }, "the expired lease was not reclaimed");

        var again = (await survivor.GetAsync("again", None))!;
        Assert.Equal((TaskStatus.Queued, 1), (again.Status, again.Attempts));
        var reclaim = (await survivor.GetEventsAsync("again", None))![^1];
        Assert.Equal((TaskStatus.Running, TaskStatus.Queued, "silo-dying", 1), (reclaim.From, reclaim.To, reclaim.SiloId, reclaim.Attempt));
        Assert.Contains("lease", reclaim.Reason, StringComparison.Ordinal);
        var lastTry = (await survivor.GetAsync("last-try", None))!;
        Assert.Equal(TaskStatus.Failed, lastTry.Status);
        Assert.Contains("lost", lastTry.Error, StringComparison.Ordinal);
        Assert.Equal(TaskStatus.UpstreamFailed, (await survivor.GetAsync("child", None))!.Status);
        Assert.Equal(0, (await survivor.GetSlotsAsync(None)).InUse);

        // The old silo comes back: its heartbeat says it holds nothing, its late reports change nothing.
        Assert.Empty(await dying.HeartbeatAsync("silo-dying", [new HeldAttempt("again", 1), new HeldAttempt("last-try", 1)], None));
        Assert.False(await dying.ReportAsync(AttemptOutcome.Success(lost["again"], null), None));
        Assert.False(await dying.ReportAsync(AttemptOutcome.Success(lost["last-try"], null), None));
        Assert.False(await dying.HandBackAsync(lost["again"], "late", None));
        Assert.Equal(TaskStatus.Queued, (await survivor.GetAsync("again", None))!.Status);

        var second = Assert.Single(await survivor.ClaimAsync("silo-survivor", 5, None));
        Assert.Equal(("again", 2), (second.TaskId, second.Attempt));
        Assert.True(await survivor.ReportAsync(AttemptOutcome.Success(second, null), None));
        var stats = await survivor.GetStatsAsync(None);
        Assert.Equal((1L, 1L, 1L), (stats.Counts[TaskStatus.Completed], stats.Counts[TaskStatus.Failed], stats.Counts[TaskStatus.UpstreamFailed]));
    }

    [SkippableFact]
    public async Task Heartbeats_keep_a_lease_alive_past_its_first_expiry()
    {
        // Long enough that a busy machine still heartbeats well within it; the loop covers 2.5 leases.
        var lease = TimeSpan.FromSeconds(1);
        var connection = await database.SchemaAsync(nameof(Heartbeats_keep_a_lease_alive_past_its_first_expiry));
        var runner = await OpenAsync(connection, 1, leaseDuration: lease);
        var other = await OpenAsync(connection, 1, leaseDuration: lease);
        await runner.RegisterSiloAsync(new SiloView("silo-runner", "test", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, "ACTIVE", 1, 0), None);
        await runner.SubmitAsync(Specs.Plan(Specs.Task("long")), None);
        var attempt = Assert.Single(await runner.ClaimAsync("silo-runner", 1, None));
        var until = await DatabaseNowAsync(connection) + lease * 2.5;

        while (await DatabaseNowAsync(connection) < until)
        {
            Assert.Equal([new HeldAttempt("long", 1)], await runner.HeartbeatAsync("silo-runner", [new HeldAttempt("long", 1)], None));
            await other.FireRemindersAsync(100, None);
            Assert.Equal(TaskStatus.Running, (await other.GetAsync("long", None))!.Status);
            await Task.Delay(lease / 20);
        }

        Assert.True(await runner.ReportAsync(AttemptOutcome.Success(attempt, null), None));
        Assert.Equal("ACTIVE", Assert.Single(await other.GetSilosAsync(None)).Status);
    }

    [SkippableFact]
    public async Task A_hand_over_ends_attempts_and_claims_what_they_released_in_one_turn()
    {
        var connection = await database.SchemaAsync(nameof(A_hand_over_ends_attempts_and_claims_what_they_released_in_one_turn));
        var store = await OpenAsync(connection, 2);
        await store.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("b"), Specs.Task("after-a", "a")), None);
        var leases = (await store.ClaimAsync("silo-a", 2, None)).ToDictionary(l => l.TaskId);

        var handOver = await store.ReleaseAndClaimAsync(
            [AttemptOutcome.Success(leases["a"], null), AttemptOutcome.Success(leases["b"] with { SiloId = "silo-x" }, null)], "silo-a", 2, None);

        Assert.Equal([true, false], handOver.Accepted);
        Assert.Equal(["after-a"], handOver.Leases.Select(l => l.TaskId));
        Assert.Equal(TaskStatus.Completed, (await store.GetAsync("a", None))!.Status);
        Assert.Equal(TaskStatus.Running, (await store.GetAsync("b", None))!.Status);
        var stats = await store.GetStatsAsync(None);
        Assert.Equal((2L, 2), (stats.Counts[TaskStatus.Running], stats.Slots.InUse));
    }

    [SkippableFact]
    public async Task Starting_with_a_lower_limit_keeps_held_slots_and_removes_them_once_free()
    {
        var connection = await database.SchemaAsync(nameof(Starting_with_a_lower_limit_keeps_held_slots_and_removes_them_once_free));
        var wide = await OpenAsync(connection, 3);
        await wide.SubmitAsync(Specs.Plan(Enumerable.Range(0, 6).Select(i => Specs.Task($"t{i}")).ToArray()), None);
        var running = await wide.ClaimAsync("silo-wide", 10, None);
        Assert.Equal(3, running.Count);

        var narrow = await OpenAsync(connection, 1);

        // The held slots survive the resize, so no attempt loses its slot; none is free to claim.
        Assert.Equal((3, 3), ((await narrow.GetSlotsAsync(None)).Limit, (await narrow.GetSlotsAsync(None)).InUse));
        Assert.Empty(await narrow.ClaimAsync("silo-narrow", 10, None));
        foreach (var lease in running)
        {
            Assert.True(await wide.ReportAsync(AttemptOutcome.Success(lease, null), None));
        }

        await narrow.FireRemindersAsync(100, None);
        Assert.Equal(1, (await narrow.GetSlotsAsync(None)).Limit);
        Assert.Single(await narrow.ClaimAsync("silo-narrow", 10, None));
        Assert.Empty(await narrow.ClaimAsync("silo-narrow", 10, None));
    }

    private async Task<PostgresTaskStore> OpenAsync(string connection, int limit, WorkSignal? signal = null, StoreEvents? events = null, TimeSpan? leaseDuration = null)
    {
        var store = Track(PostgresDatabase.Create(connection, limit, signal: signal, events: events, leaseDuration: leaseDuration));
        await store.InitializeAsync(None);
        return store;
    }

    private PostgresTaskStore Track(PostgresTaskStore store)
    {
        _opened.Add(store);
        return store;
    }

    /// <summary>Consumes the wake-ups that opening a store sets, so a later wait sees only new ones.</summary>
    private static async Task DrainAsync(Signal signal)
    {
        while (await signal.WaitAsync(TimeSpan.FromMilliseconds(200), TimeProvider.System, None))
        {
        }
    }

    /// <summary>How often a wait looks at its condition again.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string failure)
    {
        using var timeout = new CancellationTokenSource(WaitLimit);
        while (!await condition())
        {
            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"{failure} within {WaitLimit.TotalSeconds} s");
            }

            await Task.Delay(PollInterval);
        }
    }

    private static async Task<DateTimeOffset> DatabaseNowAsync(string connectionString) =>
        (await QueryAsync(connectionString, "SELECT now()", r => r.GetFieldValue<DateTimeOffset>(0)))[0];

    private static async Task<List<T>> QueryAsync<T>(string connectionString, string sql, Func<NpgsqlDataReader, T> read)
    {
        // Unpooled: a test that cuts the database's connections must not leave broken ones behind.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansScheduler.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No OrleansScheduler.sln above {AppContext.BaseDirectory}");
    }
}
