using Microsoft.Data.Sqlite;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Cluster;
using OrleansScheduler.Grains.Tests.OrleansAdoNet;
using OrleansScheduler.Grains.Tests.Support;
using OrleansScheduler.Testing;

namespace OrleansScheduler.Grains.Tests.Recovery;

/// <summary>The one-process deployment stopped and started again on the same SQLite file, or on the
/// image of the file a kill -9 would leave (SQLite's online backup copies exactly the committed
/// transactions, at one moment): what was interrupted comes back. Each test starts its own
/// clusters, one after the other, never two on one file.</summary>
public sealed class SqliteRestartTests(TempFolder folder) : IClassFixture<TempFolder>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_attempt_running_when_the_process_died_is_recorded_lost_and_run_again_within_the_limit()
    {
        var (file, crashed) = (folder.File("lost.db"), folder.File("lost-after-kill.db"));
        var clock = new ShiftedClock();
        await using (var before = await StartAsync(file, clock, new ClusterProbe(), limit: 1, quiet: true))
        {
            await before.Grains.GetTaskGrain("long").SubmitAsync(Spec("long", GateHandler.TypeName));
            await before.Grains.GetTaskGrain("next").SubmitAsync(Spec("next", CountingHandler.TypeName));
            await WaitAsync(before, "long", t => t.Status == TaskStatus.Running && before.Probe.ExecutionsOf("long").Count == 1, "runs");
            Assert.Equal(TaskStatus.Queued, (await before.Grains.GetTaskGrain("next").GetAsync())!.Status);

            // The process dies here: its file is what it committed, the slot holder included.
            Snapshot(file, crashed);
        }

        var probe = new ClusterProbe();
        probe.Open("long");
        await using var after = await StartAsync(crashed, clock, probe, limit: 1);

        var task = await WaitAsync(after, "long", t => t.Status == TaskStatus.Completed, "completes");
        Assert.Equal(2, task.Attempts);
        var events = (await after.Grains.GetTaskGrain("long").GetEventsAsync())!;
        Assert.Equal(
            [(null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed)],
            events.Select(e => ((TaskStatus?)e.From, e.To)));
        Assert.Equal([1, 1, 2, 2], events.Where(e => e.Attempt is not null).Select(e => e.Attempt!.Value));
        var lost = events[2];
        Assert.Contains("attempt lost", lost.Reason, StringComparison.Ordinal);

        // The dead process's slot holder was counted until the lost attempt gave the slot back:
        // the task queued behind it started only after that.
        var next = await WaitAsync(after, "next", t => t.Status == TaskStatus.Completed, "completes");
        Assert.True(next.StartedAt >= lost.At, $"next started at {next.StartedAt:O}, before the lost attempt was recorded at {lost.At:O}");
        Assert.Equal(["long#2", "next#1"], probe.Executions.Select(e => $"{e.TaskId}#{e.Attempt}").Order(StringComparer.Ordinal));
        Assert.Equal(1, ClusterProbe.Execution.Peak(probe.Executions));
        // The slot goes back through the silo's batcher after the completion is written.
        await Poll.UntilAsync("the slot is given back", () => after.Grains.GetConcurrencyGrain().GetSlotsAsync(),
            slots => slots.Holders.Count == 0, slots => string.Join(", ", slots.Holders.Select(h => h.TaskId)), TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_graceful_stop_hands_the_running_attempt_back_and_the_restart_runs_it_uncounted()
    {
        var file = folder.File("handed.db");
        var clock = new ShiftedClock();
        await using (var before = await StartAsync(file, clock, new ClusterProbe()))
        {
            await before.Grains.GetTaskGrain("only-once").SubmitAsync(Spec("only-once", GateHandler.TypeName) with { MaxAttempts = 1 });
            await WaitAsync(before, "only-once", t => t.Status == TaskStatus.Running && before.Probe.ExecutionsOf("only-once").Count == 1, "runs");

            // Stopped with the gate closed: the executor cancels the attempt and hands it back.
            await before.StopAsync();
            Assert.Equal("cancelled", before.Probe.ExecutionsOf("only-once")[0].Outcome);
        }

        var probe = new ClusterProbe();
        probe.Open("only-once");
        await using var after = await StartAsync(file, clock, probe);

        var done = await WaitAsync(after, "only-once", t => t.Status == TaskStatus.Completed, "completes");
        Assert.Equal(1, done.Attempts);
        var events = (await after.Grains.GetTaskGrain("only-once").GetEventsAsync())!;
        Assert.Equal(
            [(null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed)],
            events.Select(e => ((TaskStatus?)e.From, e.To)));
        Assert.Contains("handed back", events[2].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task What_fell_due_or_was_left_unheard_while_no_silo_ran_is_recovered_at_start()
    {
        var file = folder.File("due.db");
        var clock = new ShiftedClock();
        var probe = new ClusterProbe();
        await using (var before = await StartAsync(file, clock, probe, quiet: true))
        {
            await before.Grains.GetTaskGrain("later").SubmitAsync(Spec("later", "sim") with { RunAt = clock.GetUtcNow().AddHours(1) });
            await before.Grains.GetTaskGrain("upstream").SubmitAsync(Spec("upstream", GateHandler.TypeName));
            await before.Grains.GetTaskGrain("deaf").SubmitAsync(Spec("deaf", "sim") with { Dependencies = ["upstream"] });
            probe.LoseNotificationsTo("deaf");
            probe.Open("upstream");
            await WaitAsync(before, "upstream", t => t.Status == TaskStatus.Completed, "completes");
            Assert.Equal(TaskStatus.Waiting, await before.StoredStatusAsync("deaf"));
            Assert.Equal(TaskStatus.Scheduled, (await before.Grains.GetTaskGrain("later").GetAsync())!.Status);
        }

        clock.Advance(TimeSpan.FromHours(1));
        await using var after = await StartAsync(file, clock, new ClusterProbe());

        await WaitAsync(after, "later", t => t.Status == TaskStatus.Completed, "completes");
        await WaitAsync(after, "deaf", t => t.Status == TaskStatus.Completed, "completes");
        var events = (await after.Grains.GetTaskGrain("later").GetEventsAsync())!;
        Assert.Equal("run_at reached", events.Single(e => e.To == TaskStatus.Queued).Reason);
    }

    [Fact]
    public async Task A_reminder_survives_a_restart_on_the_same_file_and_fires()
    {
        var file = folder.File("reminders.db");
        var key = "probe-" + Guid.NewGuid().ToString("N")[..8];
        var tick = ReminderProbeGrain.TickKey(key, "tick");
        var clock = new ShiftedClock();
        await using (var before = await StartAsync(file, clock, new ClusterProbe()))
        {
            await before.Grains.GetGrain<IReminderProbeGrain>(key).Register("tick", TimeSpan.FromSeconds(1));
            await Poll.UntilAsync("the reminder ticks", () => Task.FromResult(ReminderProbeGrain.Ticks.GetValueOrDefault(tick)), n => n > 0, n => $"{n} ticks");
        }

        var ticks = ReminderProbeGrain.Ticks.GetValueOrDefault(tick);
        await using var after = await StartAsync(file, clock, new ClusterProbe());

        // Nobody calls the grain: the reminder, read back from the file, activates it.
        await Poll.UntilAsync("the reminder ticks after the restart", () => Task.FromResult(ReminderProbeGrain.Ticks.GetValueOrDefault(tick)), n => n > ticks, n => $"{n} ticks", Patience);
        Assert.True(await after.Grains.GetGrain<IReminderProbeGrain>(key).Has("tick"));

        // The scheduler's own reminders came back too: the sweeper's wakes what falls due, with
        // no other nudge.
        await after.Grains.GetTaskGrain("later").SubmitAsync(Spec("later", "sim") with { RunAt = clock.GetUtcNow().AddHours(1) });
        clock.Advance(TimeSpan.FromHours(1));
        await WaitAsync(after, "later", t => t.Status == TaskStatus.Completed, "is woken by the sweeper's reminder");
        await after.Grains.GetGrain<IReminderProbeGrain>(key).Unregister("tick");
    }

    [Fact]
    public async Task A_second_cluster_on_a_file_in_use_is_refused_and_takes_nothing_from_the_first()
    {
        var file = folder.File("shared.db");
        var clock = new ShiftedClock();
        await using var first = await StartAsync(file, clock, new ClusterProbe());
        await first.Grains.GetTaskGrain("mine").SubmitAsync(Spec("mine", GateHandler.TypeName));
        await WaitAsync(first, "mine", t => t.Status == TaskStatus.Running && first.Probe.ExecutionsOf("mine").Count == 1, "runs");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(file, clock, new ClusterProbe()));

        var refusal = error as InvalidOperationException ?? error.InnerException as InvalidOperationException;
        Assert.True(refusal is not null && refusal.Message.Contains(".lock", StringComparison.Ordinal) && refusal.Message.Contains("DATABASE_URL", StringComparison.Ordinal),
            $"not a clear refusal: {error}");
        var task = (await first.Grains.GetTaskGrain("mine").GetAsync())!;
        Assert.Equal((TaskStatus.Running, 1), (task.Status, task.Attempts));
        first.Probe.Open("mine");
        await WaitAsync(first, "mine", t => t.Status == TaskStatus.Completed, "completes");
    }

    private static TaskSpec Spec(string id, string type) =>
        new(id, type, 0, [], null, TaskSpec.DefaultPriority, null, null, TaskSpec.DefaultMaxAttempts) { RetryBackoffMs = 0 };

    /// <summary>A cluster on <paramref name="file"/>; its recovery reminders tick every 2 s unless
    /// <paramref name="quiet"/>, where they wait a minute, so what the test leaves undone stays
    /// undone until the restart.</summary>
    private static Task<SchedulerCluster> StartAsync(string file, ShiftedClock clock, ClusterProbe probe, int limit = 2, bool quiet = false) =>
        SchedulerCluster.StartAsync(new SchedulerClusterOptions
        {
            DatabaseUrl = file, Clock = clock, Probe = probe, MaxConcurrentTasks = limit, RecoveryPeriod = quiet ? TimeSpan.FromMinutes(1) : TimeSpan.FromSeconds(2),
        });

    private static async Task<TaskView> WaitAsync(SchedulerCluster cluster, string id, Func<TaskView, bool> done, string what)
    {
        try
        {
            return await Poll.UntilAsync($"{id} {what}", async () => (await cluster.Grains.GetTaskGrain(id).GetAsync())!, done,
                t => $"{t.Status.ToName()} attempts {t.Attempts} error '{t.Error}'", Patience);
        }
        catch (Xunit.Sdk.XunitException ex)
        {
            var events = await cluster.Grains.GetTaskGrain(id).GetEventsAsync() ?? [];
            throw new Xunit.Sdk.XunitException($"{ex.Message}{Environment.NewLine}"
                + string.Join(Environment.NewLine, events.Select(e => $"  {e.At:HH:mm:ss.fff} {e.From?.ToName() ?? "-"} -> {e.To.ToName()} {e.Reason}"))
                + Environment.NewLine + cluster.RecentLog());
        }
    }

    /// <summary>SQLite's online backup: a consistent copy of every committed transaction, taken
    /// while the cluster writes on.</summary>
    private static void Snapshot(string from, string to)
    {
        using var source = new SqliteConnection(SqliteDatabase.SharedConnectionStringFor(from));
        using var target = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = to, Pooling = false }.ToString());
        source.Open();
        target.Open();
        source.BackupDatabase(target);
    }
}
