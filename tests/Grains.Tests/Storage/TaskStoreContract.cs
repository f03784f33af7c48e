using System.Runtime.CompilerServices;
using System.Text.Json;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

/// <summary>What every <see cref="ITaskStore"/> engine must do, written once. An engine's test class
/// derives from this and says only how to open a store (SQLite now, PostgreSQL later); every test
/// gets a database of its own, named after the test, so the tests can run in parallel. The tests are
/// [SkippableFact]s so an engine without a server to test against (PostgreSQL on a laptop) can skip
/// them from its factory.</summary>
public abstract partial class TaskStoreContract : IAsyncLifetime
{
    protected const string SiloA = "silo-a";
    protected const string SiloB = "silo-b";

    private readonly List<ITaskStore> _opened = [];

    /// <summary>Opens (creates and migrates on first use) the database <paramref name="database"/>:
    /// the same name reaches the same data.</summary>
    protected abstract Task<ITaskStore> OpenStoreAsync(string database, int maxConcurrentTasks, TimeProvider clock);

    protected static CancellationToken None => CancellationToken.None;

    /// <summary>An open store on this test's own database.</summary>
    protected async Task<ITaskStore> NewStoreAsync(int maxConcurrentTasks = 3, TimeProvider? clock = null, [CallerMemberName] string database = "")
    {
        var store = await OpenStoreAsync(database, maxConcurrentTasks, clock ?? TimeProvider.System);
        _opened.Add(store);
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task A_submitted_dag_starts_queued_where_nothing_blocks_and_waiting_elsewhere()
    {
        var store = await NewStoreAsync();

        var submitted = await store.SubmitAsync(
            Specs.Plan(Specs.Task("c", "a", "b"), Specs.Task("b", "a"), Specs.Task("a"), Specs.Task("solo")), None);

        Assert.Equal(
            [("a", TaskStatus.Queued), ("b", TaskStatus.Waiting), ("c", TaskStatus.Waiting), ("solo", TaskStatus.Queued)],
            submitted.Select(s => (s.Id, s.Status)).OrderBy(s => s.Id, StringComparer.Ordinal));

        var c = await GetAsync(store, "c");
        Assert.Equal(TaskStatus.Waiting, c.Status);
        Assert.Equal(["a", "b"], c.Dependencies.Order(StringComparer.Ordinal));
        Assert.Equal(0, c.Attempts);
        Assert.Equal(TaskSpec.DefaultMaxAttempts, c.MaxAttempts);
        Assert.Equal("dependencies", c.BlockedBy?.Reason);
        Assert.Equal(["a", "b"], c.BlockedBy!.Dependencies!.Select(d => d.Id).Order(StringComparer.Ordinal));

        var a = await GetAsync(store, "a");
        Assert.Empty(a.Dependencies);
        Assert.Equal("slots", a.BlockedBy?.Reason);
        Assert.Null(a.StartedAt);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_submission_keeps_every_field()
    {
        var store = await NewStoreAsync();
        using var payload = JsonDocument.Parse("""{"to":"user@example.com","n":[1,2]}""");
        var runAt = DateTimeOffset.UtcNow.AddHours(-1);
        var spec = new TaskSpec("full", "send_email", 1234, [], payload.RootElement.Clone(), 7, runAt, 9000, 5);

        await store.SubmitAsync(Specs.Plan(spec), None);

        var task = await GetAsync(store, "full");
        Assert.Equal("send_email", task.Type);
        Assert.Equal(1234, task.DurationMs);
        Assert.Equal(7, task.Priority);
        Assert.Equal(9000, task.TimeoutMs);
        Assert.Equal(5, task.MaxAttempts);
        Assert.Equal(runAt.ToUnixTimeMilliseconds(), task.RunAt?.ToUnixTimeMilliseconds());
        Assert.Equal("user@example.com", task.Payload?.GetProperty("to").GetString());
        Assert.Equal(2, task.Payload?.GetProperty("n").GetArrayLength());
        Assert.Equal(TaskStatus.Queued, task.Status);
    }

    [SkippableFact]
    public async Task A_task_whose_dependency_already_failed_is_upstream_failed_at_once()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("a") with { MaxAttempts = 1 }), None);
        var lease = Assert.Single(await store.ClaimAsync(SiloA, 1, None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(lease, "boom"), None));

        var submitted = await store.SubmitAsync(Specs.Plan(Specs.Task("late", "a")), None);

        Assert.Equal(TaskStatus.UpstreamFailed, Assert.Single(submitted).Status);
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(store, "late")).Status);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_dependency_on_a_completed_task_does_not_hold_a_new_task_back()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("a")), None);
        await CompleteAsync(store, "a");

        var submitted = await store.SubmitAsync(Specs.Plan(Specs.Task("b", "a")), None);

        Assert.Equal(TaskStatus.Queued, Assert.Single(submitted).Status);
    }

    [SkippableFact]
    public async Task An_existing_id_is_a_conflict_and_the_whole_batch_is_not_written()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("taken") with { Type = "first" }), None);

        var error = await Assert.ThrowsAsync<TaskConflictException>(() =>
            store.SubmitAsync(Specs.Plan(Specs.Task("fresh"), Specs.Task("taken") with { Type = "second" }), None));

        Assert.Equal("taken", error.TaskId);
        Assert.Contains("taken", error.Message, StringComparison.Ordinal);
        Assert.Null(await store.GetAsync("fresh", None));
        Assert.Equal("first", (await GetAsync(store, "taken")).Type);
        Assert.Equal(1, (await store.GetStatsAsync(None)).Total);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_missing_dependency_is_named_and_nothing_is_written()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("exists")), None);

        var error = await Assert.ThrowsAsync<TaskValidationException>(() =>
            store.SubmitAsync(Specs.Plan(Specs.Task("x", "exists", "ghost-2"), Specs.Task("y", "x", "ghost-1")), None));

        Assert.Equal("missing_dependency", error.Kind);
        Assert.Equal(["ghost-1", "ghost-2"], error.Ids);
        Assert.Contains("ghost-1", error.Message, StringComparison.Ordinal);
        Assert.Null(await store.GetAsync("x", None));
        Assert.Null(await store.GetAsync("y", None));
        Assert.Equal(1, (await store.GetStatsAsync(None)).Total);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task Unknown_ids_read_as_null()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetAsync("nope", None));
        Assert.Null(await store.GetEventsAsync("nope", None));
    }

    [SkippableFact]
    public async Task A_claim_never_hands_out_more_leases_than_there_are_slots()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 3);
        await store.SubmitAsync(Specs.Plan(Enumerable.Range(1, 5).Select(i => Specs.Task($"t{i}")).ToArray()), None);

        var first = await store.ClaimAsync(SiloA, 10, None);
        var second = await store.ClaimAsync(SiloB, 10, None);

        Assert.Equal(3, first.Count);
        Assert.Empty(second);
        Assert.Equal(3, first.Select(l => l.Slot).Distinct().Count());
        Assert.All(first, l => Assert.Equal(1, l.Attempt));
        Assert.All(first, l => Assert.Equal(SiloA, l.SiloId));
        var slots = await store.GetSlotsAsync(None);
        Assert.Equal(3, slots.Limit);
        Assert.Equal(3, slots.InUse);
        Assert.Equal(first.Select(l => l.TaskId).Order(StringComparer.Ordinal), slots.Holders.Select(h => h.TaskId).Order(StringComparer.Ordinal));
        var stats = await store.GetStatsAsync(None);
        Assert.Equal(3, stats.Counts[TaskStatus.Running]);
        Assert.Equal(2, stats.Counts[TaskStatus.Queued]);

        // A freed slot is claimable again, one for one.
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(first[0], null), None));
        var third = await store.ClaimAsync(SiloB, 10, None);
        Assert.Single(third);
        Assert.Equal(first[0].Slot, third[0].Slot);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task Concurrent_claims_from_many_silos_share_the_slots_without_exceeding_them()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 4);
        await store.SubmitAsync(Specs.Plan(Enumerable.Range(1, 40).Select(i => Specs.Task($"t{i:00}")).ToArray()), None);

        var claims = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => store.ClaimAsync($"silo-{i}", 3, None)));

        var leases = claims.SelectMany(c => c).ToList();
        Assert.Equal(4, leases.Count);
        Assert.Equal(4, leases.Select(l => l.TaskId).Distinct().Count());
        Assert.Equal(4, leases.Select(l => l.Slot).Distinct().Count());
        Assert.Equal(4, (await store.GetSlotsAsync(None)).InUse);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task Claims_take_higher_priority_first_then_the_oldest()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 5);
        await store.SubmitAsync(Specs.Plan(Specs.Task("low") with { Priority = 1 }), None);
        await store.SubmitAsync(Specs.Plan(Specs.Task("high-old") with { Priority = 10 }), None);
        await store.SubmitAsync(Specs.Plan(Specs.Task("mid-old") with { Priority = 5 }), None);
        await store.SubmitAsync(Specs.Plan(Specs.Task("high-new") with { Priority = 10 }), None);
        await store.SubmitAsync(Specs.Plan(Specs.Task("mid-new") with { Priority = 5 }), None);

        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            order.Add(Assert.Single(await store.ClaimAsync(SiloA, 1, None)).TaskId);
        }

        Assert.Equal(["high-old", "high-new", "mid-old", "mid-new", "low"], order);
    }

    [SkippableFact]
    public async Task Waiting_tasks_are_never_claimed()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 5);
        await store.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("b", "a") with { Priority = 10 }), None);

        var leases = await store.ClaimAsync(SiloA, 5, None);

        Assert.Equal(["a"], leases.Select(l => l.TaskId));
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(store, "b")).Status);
    }

    [SkippableFact]
    public async Task A_lease_carries_what_the_handler_needs()
    {
        var store = await NewStoreAsync();
        using var payload = JsonDocument.Parse("""{"k":"v"}""");
        await store.SubmitAsync(Specs.Plan(new TaskSpec("t", "kind", 250, [], payload.RootElement.Clone(), 5, null, 4000, 4)), None);

        var lease = Assert.Single(await store.ClaimAsync(SiloA, 1, None));

        Assert.Equal(("t", "kind", 250L, 4000L, 1, 4, SiloA), (lease.TaskId, lease.Type, lease.DurationMs, lease.TimeoutMs!.Value, lease.Attempt, lease.MaxAttempts, lease.SiloId));
        Assert.Equal("v", lease.Payload?.GetProperty("k").GetString());
        var task = await GetAsync(store, "t");
        Assert.Equal(TaskStatus.Running, task.Status);
        Assert.Equal(1, task.Attempts);
        Assert.Equal(SiloA, task.WorkerId);
        Assert.NotNull(task.StartedAt);
        Assert.Null(task.BlockedBy);
    }

    [SkippableFact]
    public async Task Success_completes_the_task_and_releases_its_dependents_in_the_same_turn()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(
            Specs.Task("a"), Specs.Task("d"), Specs.Task("b", "a"), Specs.Task("c", "a", "d"), Specs.Task("e", "b")), None);
        var leases = await store.ClaimAsync(SiloA, 2, None);
        var leaseA = leases.Single(l => l.TaskId == "a");
        using var result = JsonDocument.Parse("""{"rows":42}""");

        Assert.True(await store.ReportAsync(AttemptOutcome.Success(leaseA, result.RootElement.Clone()), None));

        // No dispatcher or background work runs in this test: what the report's turn did is all there is.
        var a = await GetAsync(store, "a");
        Assert.Equal(TaskStatus.Completed, a.Status);
        Assert.Equal(42, a.Result?.GetProperty("rows").GetInt32());
        Assert.NotNull(a.CompletedAt);
        Assert.Null(a.Error);
        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "b")).Status);
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(store, "c")).Status);
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(store, "e")).Status);
        var c = await GetAsync(store, "c");
        Assert.Equal(["d"], c.BlockedBy!.Dependencies!.Select(x => x.Id));
        await AssertCountersMatchAsync(store);

        // The second dependency of c completes: c is released by that turn too.
        var leaseD = leases.Single(l => l.TaskId == "d");
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(leaseD, null), None));
        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "c")).Status);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_hand_over_records_each_outcome_apart_and_gives_the_freed_slots_to_the_next_tasks()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 4);
        await store.SubmitAsync(Specs.Plan(
            Specs.Task("ok"), Specs.Task("flaky") with { MaxAttempts = 2, RetryBackoffMs = 0 }, Specs.Task("stale"), Specs.Task("last") with { MaxAttempts = 1 },
            Specs.Task("after-ok", "ok"), Specs.Task("after-last", "last"), Specs.Task("spare") with { Priority = 1 }), None);
        var leases = (await store.ClaimAsync(SiloA, 4, None)).ToDictionary(l => l.TaskId);
        Assert.Equal(["flaky", "last", "ok", "stale"], leases.Keys.Order());
        using var result = JsonDocument.Parse("""{"rows": [1, 2], "name": "quo\"te"}""");

        var handOver = await store.ReleaseAndClaimAsync(
        [
            AttemptOutcome.Success(leases["ok"], result.RootElement.Clone()),
            AttemptOutcome.Failure(leases["flaky"], "flaked"),
            AttemptOutcome.Success(leases["stale"] with { Attempt = 2 }, null),
            AttemptOutcome.Failure(leases["last"], "gave up"),
        ], SiloA, 4, None);

        // The stale report changes nothing; the other three free their slots, and the claim in the
        // same turn takes them: the retry and the released dependent, then the low-priority spare.
        Assert.Equal([true, true, false, true], handOver.Accepted);
        Assert.Equal(["after-ok", "flaky", "spare"], handOver.Leases.Select(l => l.TaskId).Order());
        Assert.Equal(2, handOver.Leases.Single(l => l.TaskId == "flaky").Attempt);
        Assert.Equal("spare", handOver.Leases[^1].TaskId);
        Assert.Equal(3, handOver.Leases.Select(l => l.Slot).Distinct().Count());
        var ok = await GetAsync(store, "ok");
        Assert.Equal(TaskStatus.Completed, ok.Status);
        Assert.Equal("quo\"te", ok.Result?.GetProperty("name").GetString());
        Assert.Equal([1, 2], ok.Result?.GetProperty("rows").EnumerateArray().Select(r => r.GetInt32()));
        Assert.Equal(TaskStatus.Running, (await GetAsync(store, "stale")).Status);
        Assert.Equal((TaskStatus.Failed, "gave up"), ((await GetAsync(store, "last")).Status, (await GetAsync(store, "last")).Error));
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(store, "after-last")).Status);
        var events = (await store.GetEventsAsync("ok", None))!;
        Assert.Equal(
            [(null, TaskStatus.Queued, null), (TaskStatus.Queued, TaskStatus.Running, "attempt 1 of 3 started"), (TaskStatus.Running, TaskStatus.Completed, "completed")],
            events.Select(e => (e.From, e.To, e.Reason == "completed" || e.Reason!.StartsWith("attempt", StringComparison.Ordinal) ? e.Reason : null)));
        Assert.Equal((SiloA, 1), (events[^1].SiloId, events[^1].Attempt));
        Assert.Equal(4, (await store.GetSlotsAsync(None)).InUse);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task Completed_in_the_last_minute_counts_completions_by_the_second_they_were_committed()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 12, 0, 0, 500, TimeSpan.Zero));
        var store = await NewStoreAsync(maxConcurrentTasks: 10, clock);
        await store.SubmitAsync(Specs.Plan(Enumerable.Range(0, 6).Select(i => Specs.Task($"t{i}")).ToArray()), None);
        var leases = await store.ClaimAsync(SiloA, 6, None);

        async Task<long> CompletedLastMinuteAsync() => (await store.GetStatsAsync(None)).Throughput.CompletedLastMinute;

        // Three complete together, one fails (not a completion), then two complete 30 s later.
        var first = await store.ReleaseAndClaimAsync([.. leases.Take(3).Select(l => AttemptOutcome.Success(l, null)), AttemptOutcome.Failure(leases[3], "no")], SiloA, 0, None);
        Assert.Equal([true, true, true, true], first.Accepted);
        Assert.Equal(3, await CompletedLastMinuteAsync());
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(leases[4], null), None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(leases[5], null), None));
        Assert.Equal(5, await CompletedLastMinuteAsync());

        // 61 s after the first three they have left the window; the last two leave 30 s later.
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(2, await CompletedLastMinuteAsync());
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await CompletedLastMinuteAsync());
        Assert.Equal(5, (await store.GetStatsAsync(None)).Counts[TaskStatus.Completed]);
    }

    [SkippableFact]
    public async Task A_silo_not_heard_from_for_a_day_is_forgotten_when_another_registers()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));
        var store = await NewStoreAsync(clock: clock);
        SiloView Silo(string id) => new(id, "host", clock.GetUtcNow(), clock.GetUtcNow(), "ACTIVE", 4, 0);
        await store.RegisterSiloAsync(Silo("old"), None);
        await store.MarkSiloStoppedAsync("old", None);
        await store.RegisterSiloAsync(Silo("crashed"), None);
        clock.Advance(TimeSpan.FromHours(23));
        await store.RegisterSiloAsync(Silo("recent"), None);
        Assert.Equal(["crashed", "old", "recent"], (await store.GetSilosAsync(None)).Select(s => s.Id).Order(StringComparer.Ordinal));

        // A day after their last heartbeat, stopped or silent, they go; the one heard from 2 h ago stays.
        clock.Advance(TimeSpan.FromHours(2));
        await store.RegisterSiloAsync(Silo("new"), None);

        var silos = await store.GetSilosAsync(None);
        Assert.Equal(["new", "recent"], silos.Select(s => s.Id).Order(StringComparer.Ordinal));
        Assert.Equal("DEAD", silos.Single(s => s.Id == "recent").Status);
    }

    [SkippableFact]
    public async Task A_failure_with_attempts_left_requeues_and_the_next_claim_is_the_next_attempt()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("flaky") with { MaxAttempts = 3, RetryBackoffMs = 0 }, Specs.Task("after", "flaky")), None);
        var first = Assert.Single(await store.ClaimAsync(SiloA, 5, None));

        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(first, "disk on fire"), None));

        var task = await GetAsync(store, "flaky");
        Assert.Equal(TaskStatus.Queued, task.Status);
        Assert.Equal(1, task.Attempts);
        Assert.Equal("disk on fire", task.Error);
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(store, "after")).Status);
        Assert.Equal(0, (await store.GetSlotsAsync(None)).InUse);

        var second = Assert.Single(await store.ClaimAsync(SiloB, 5, None));
        Assert.Equal(("flaky", 2, SiloB), (second.TaskId, second.Attempt, second.SiloId));
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(second, null), None));
        Assert.Equal(TaskStatus.Completed, (await GetAsync(store, "flaky")).Status);
        Assert.Equal(2, (await GetAsync(store, "flaky")).Attempts);
        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "after")).Status);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task The_last_failure_ends_failed_and_every_descendant_upstream_failed()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 1);
        // root -> mid -> leaf, root -> side, and join waits on mid and on an unrelated task; the
        // unrelated one and an already-completed branch must not be touched.
        await store.SubmitAsync(Specs.Plan(
            Specs.Task("root") with { MaxAttempts = 2, Priority = 10, RetryBackoffMs = 0 },
            Specs.Task("other"),
            Specs.Task("mid", "root"),
            Specs.Task("side", "root"),
            Specs.Task("leaf", "mid"),
            Specs.Task("join", "mid", "other")), None);

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var lease = Assert.Single(await store.ClaimAsync(SiloA, 1, None));
            Assert.Equal(("root", attempt), (lease.TaskId, lease.Attempt));
            Assert.True(await store.ReportAsync(AttemptOutcome.Failure(lease, $"failure {attempt}"), None));
        }

        var root = await GetAsync(store, "root");
        Assert.Equal(TaskStatus.Failed, root.Status);
        Assert.Equal(2, root.Attempts);
        Assert.Equal("failure 2", root.Error);
        Assert.NotNull(root.CompletedAt);
        foreach (var id in new[] { "mid", "side", "leaf", "join" })
        {
            var task = await GetAsync(store, id);
            Assert.True(task.Status == TaskStatus.UpstreamFailed, $"{id} is {task.Status}, not UPSTREAM_FAILED");
            Assert.Equal(0, task.Attempts);
            Assert.Null(task.StartedAt);
            Assert.Contains("root", task.Error, StringComparison.Ordinal);
            var last = (await store.GetEventsAsync(id, None))![^1];
            Assert.Equal((TaskStatus.Waiting, TaskStatus.UpstreamFailed), (last.From, last.To));
        }

        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "other")).Status);

        // They never run: the only claimable task left is the unrelated one.
        Assert.Equal(["other"], (await store.ClaimAsync(SiloA, 10, None)).Select(l => l.TaskId));
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_stale_report_is_rejected_and_changes_nothing()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("t"), Specs.Task("child", "t")), None);
        var lease = Assert.Single(await store.ClaimAsync(SiloA, 5, None));
        var before = await SnapshotAsync(store, "t");
        var statsBefore = await store.GetStatsAsync(None);

        Assert.False(await store.ReportAsync(AttemptOutcome.Success(lease with { Attempt = 2 }, null), None));
        Assert.False(await store.ReportAsync(AttemptOutcome.Success(lease with { Attempt = 0 }, null), None));
        Assert.False(await store.ReportAsync(AttemptOutcome.Success(lease with { SiloId = SiloB }, null), None));
        Assert.False(await store.ReportAsync(AttemptOutcome.Failure(lease with { SiloId = SiloB }, "late"), None));
        Assert.False(await store.HandBackAsync(lease with { SiloId = SiloB }, "not mine", None));

        Assert.Equal(before, await SnapshotAsync(store, "t"));
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(store, "child")).Status);
        var statsAfter = await store.GetStatsAsync(None);
        Assert.Equal(statsBefore.Counts.OrderBy(c => c.Key), statsAfter.Counts.OrderBy(c => c.Key));
        Assert.Equal(1, statsAfter.Slots.InUse);

        // The live attempt still reports; and once it has, the same report again is stale.
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(lease, null), None));
        Assert.False(await store.ReportAsync(AttemptOutcome.Success(lease, null), None));
        Assert.False(await store.ReportAsync(AttemptOutcome.Failure(lease, "again"), None));
        Assert.Equal(TaskStatus.Completed, (await GetAsync(store, "t")).Status);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_report_of_an_earlier_attempt_after_a_retry_is_rejected()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("t") with { RetryBackoffMs = 0 }), None);
        var first = Assert.Single(await store.ClaimAsync(SiloA, 1, None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(first, "first failed"), None));
        var second = Assert.Single(await store.ClaimAsync(SiloB, 1, None));

        Assert.False(await store.ReportAsync(AttemptOutcome.Success(first, null), None));

        var task = await GetAsync(store, "t");
        Assert.Equal((TaskStatus.Running, 2, SiloB), (task.Status, task.Attempts, task.WorkerId));
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(second, null), None));
    }

    [SkippableFact]
    public async Task A_hand_back_requeues_without_counting_the_attempt()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 1);
        await store.SubmitAsync(Specs.Plan(Specs.Task("t") with { MaxAttempts = 1 }), None);
        var lease = Assert.Single(await store.ClaimAsync(SiloA, 1, None));

        Assert.True(await store.HandBackAsync(lease, "silo stopping", None));

        var task = await GetAsync(store, "t");
        Assert.Equal(TaskStatus.Queued, task.Status);
        Assert.Equal(0, task.Attempts);
        Assert.Null(task.WorkerId);
        Assert.Equal(0, (await store.GetSlotsAsync(None)).InUse);
        var events = (await store.GetEventsAsync("t", None))!;
        Assert.Equal((TaskStatus.Running, TaskStatus.Queued, "silo stopping"), (events[^1].From, events[^1].To, events[^1].Reason));
        Assert.False(await store.HandBackAsync(lease, "twice", None));
        Assert.False(await store.ReportAsync(AttemptOutcome.Success(lease, null), None));

        // With max_attempts 1, the handed-back attempt did not use up the only attempt.
        var again = Assert.Single(await store.ClaimAsync(SiloB, 1, None));
        Assert.Equal(1, again.Attempt);
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(again, null), None));
        Assert.Equal(TaskStatus.Completed, (await GetAsync(store, "t")).Status);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task Events_record_every_transition_oldest_first()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("b", "a") with { MaxAttempts = 2, RetryBackoffMs = 0 }), None);
        await CompleteAsync(store, "a");
        var first = Assert.Single(await store.ClaimAsync(SiloA, 1, None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(first, "x"), None));
        var second = Assert.Single(await store.ClaimAsync(SiloB, 1, None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(second, null), None));

        var events = (await store.GetEventsAsync("b", None))!;

        Assert.Equal(
            [
                (null, TaskStatus.Waiting, null, null),
                (TaskStatus.Waiting, TaskStatus.Queued, null, null),
                (TaskStatus.Queued, TaskStatus.Running, SiloA, 1),
                (TaskStatus.Running, TaskStatus.Queued, SiloA, 1),
                (TaskStatus.Queued, TaskStatus.Running, SiloB, 2),
                (TaskStatus.Running, TaskStatus.Completed, SiloB, 2),
            ],
            events.Select(e => ((TaskStatus?)e.From, e.To, e.SiloId, e.Attempt)));
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.At <= p.Second.At), string.Join(", ", events.Select(e => e.At.ToString("O"))));
        Assert.All(events, e => Assert.False(string.IsNullOrEmpty(e.Reason)));
    }

    [SkippableFact]
    public async Task Listing_pages_by_cursor_cover_every_task_once_in_submission_order_with_filters()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 2);
        var ids = Enumerable.Range(0, 23).Select(i => $"t{i:00}").ToList();
        foreach (var id in ids)
        {
            await store.SubmitAsync(Specs.Plan(Specs.Task(id) with { Type = int.Parse(id[1..], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0 ? "even" : "odd" }), None);
        }

        var seen = new List<string>();
        long? after = null;
        var pages = 0;
        do
        {
            var page = await store.ListAsync(new TaskQuery(null, null, 5, after, 0), None);
            Assert.True(page.Items.Count <= 5);
            seen.AddRange(page.Items.Select(i => i.Id));
            after = page.NextCursor;
            pages++;
            Assert.True(pages <= 10, $"paging does not end; seen {string.Join(",", seen)}");
        }
        while (after is not null);

        Assert.Equal(ids, seen);
        Assert.Equal(5, pages);

        var odd = await store.ListAsync(new TaskQuery(null, "odd", 100, null, 0), None);
        Assert.Equal(ids.Where((_, i) => i % 2 == 1), odd.Items.Select(i => i.Id));
        Assert.Null(odd.NextCursor);

        var running = await store.ClaimAsync(SiloA, 2, None);
        var byStatus = await store.ListAsync(new TaskQuery(TaskStatus.Running, null, 100, null, 0), None);
        Assert.Equal(running.Select(l => l.TaskId).Order(StringComparer.Ordinal), byStatus.Items.Select(i => i.Id).Order(StringComparer.Ordinal));

        var offset = await store.ListAsync(new TaskQuery(null, null, 4, null, 10), None);
        Assert.Equal(ids.Skip(10).Take(4), offset.Items.Select(i => i.Id));

        // Newest first: the cursor continues with older tasks, and the filters still apply.
        var newest = new List<string>();
        after = null;
        do
        {
            var page = await store.ListAsync(new TaskQuery(null, "even", 5, after, 0) { NewestFirst = true }, None);
            newest.AddRange(page.Items.Select(i => i.Id));
            after = page.NextCursor;
            Assert.True(newest.Count <= ids.Count, $"newest-first paging does not end; seen {string.Join(",", newest)}");
        }
        while (after is not null);

        Assert.Equal(ids.Where((_, i) => i % 2 == 0).Reverse(), newest);
    }

    [SkippableFact]
    public async Task Status_counters_match_the_real_statuses_through_a_mixed_history()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 3);
        await store.SubmitAsync(Specs.Plan(
            Specs.Task("ok"),
            Specs.Task("doomed") with { MaxAttempts = 1 },
            Specs.Task("retry") with { MaxAttempts = 2, RetryBackoffMs = 0 },
            Specs.Task("handed"),
            Specs.Task("child-ok", "ok"),
            Specs.Task("child-doomed", "doomed"),
            Specs.Task("grandchild", "child-doomed", "ok"),
            Specs.Task("plain-1"),
            Specs.Task("plain-2")), None);
        await AssertCountersMatchAsync(store);

        var leases = (await store.ClaimAsync(SiloA, 3, None)).ToDictionary(l => l.TaskId);
        await AssertCountersMatchAsync(store);
        Assert.Equal(["doomed", "ok", "retry"], leases.Keys.Order(StringComparer.Ordinal));
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(leases["ok"], null), None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(leases["doomed"], "no"), None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(leases["retry"], "not yet"), None));
        await AssertCountersMatchAsync(store);

        var before = string.Join(", ", (await store.ListAsync(new TaskQuery(null, null, 100, null, 0), None)).Items.Select(i => $"{i.Id}={i.Status.ToName()}"));
        var more = await store.ClaimAsync(SiloB, 3, None);
        await AssertCountersMatchAsync(store);
        // A batch is inserted in dependency order, so the released child-ok is younger than plain-1.
        Assert.True(more.Select(l => l.TaskId).SequenceEqual(["retry", "handed", "plain-1"]), $"claimed [{string.Join(", ", more.Select(l => l.TaskId))}] from [{before}]");
        var handed = more.Single(l => l.TaskId == "handed");
        Assert.True(await store.HandBackAsync(handed, "stopping", None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(more.Single(l => l.TaskId == "retry"), null), None));
        await AssertCountersMatchAsync(store);

        var stats = await store.GetStatsAsync(None);
        Assert.Equal(9, stats.Total);
        Assert.Equal(1, stats.Counts[TaskStatus.Failed]);
        Assert.Equal(2, stats.Counts[TaskStatus.UpstreamFailed]);
        Assert.Equal(2, stats.Counts[TaskStatus.Completed]);
        Assert.Equal(stats.Slots.InUse, stats.Counts[TaskStatus.Running]);
    }

    /// <summary>Compares the maintained counters of GetStatsAsync with the statuses the listing shows.</summary>
    protected static async Task AssertCountersMatchAsync(ITaskStore store)
    {
        var actual = new Dictionary<TaskStatus, long>();
        long? after = null;
        do
        {
            var page = await store.ListAsync(new TaskQuery(null, null, TaskQuery.MaxLimit, after, 0), None);
            foreach (var item in page.Items)
            {
                actual[item.Status] = actual.GetValueOrDefault(item.Status) + 1;
            }

            after = page.NextCursor;
        }
        while (after is not null);

        var stats = await store.GetStatsAsync(None);
        var counted = Enum.GetValues<TaskStatus>().Select(s => $"{s.ToName()}={stats.Counts.GetValueOrDefault(s)}");
        var real = Enum.GetValues<TaskStatus>().Select(s => $"{s.ToName()}={actual.GetValueOrDefault(s)}");
        Assert.True(counted.SequenceEqual(real), $"counters [{string.Join(", ", counted)}] but rows [{string.Join(", ", real)}]");
        Assert.Equal(actual.Values.Sum(), stats.Total);
        Assert.Equal(stats.Counts.GetValueOrDefault(TaskStatus.Running), stats.Slots.InUse);
    }

    protected static async Task<TaskView> GetAsync(ITaskStore store, string id) =>
        await store.GetAsync(id, None) ?? throw new Xunit.Sdk.XunitException($"task '{id}' does not exist");

    /// <summary>Claims and completes <paramref name="id"/>, which must be the only claimable task.</summary>
    protected static async Task CompleteAsync(ITaskStore store, string id)
    {
        var lease = Assert.Single(await store.ClaimAsync(SiloA, 1, None));
        Assert.Equal(id, lease.TaskId);
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(lease, null), None));
    }

    /// <summary>Everything about one task that a rejected turn must leave as it was.</summary>
    private static async Task<string> SnapshotAsync(ITaskStore store, string id)
    {
        var task = await GetAsync(store, id);
        var events = await store.GetEventsAsync(id, None);
        var slots = await store.GetSlotsAsync(None);
        return JsonSerializer.Serialize(new
        {
            task.Status,
            task.Attempts,
            task.WorkerId,
            task.StartedAt,
            task.CompletedAt,
            task.Error,
            Result = task.Result?.GetRawText(),
            Events = events!.Count,
            Holders = slots.Holders.Select(h => $"{h.Slot}:{h.TaskId}:{h.SiloId}:{h.Attempt}"),
        });
    }
}
