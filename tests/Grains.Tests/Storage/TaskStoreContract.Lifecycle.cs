using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

/// <summary>The timed side of the contract (retry backoff, run_at) on a clock the test moves, and
/// the user's cancel and retry.</summary>
public abstract partial class TaskStoreContract
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [SkippableFact]
    public async Task A_failure_with_backoff_waits_scheduled_until_its_reminder_is_due()
    {
        var clock = new ManualClock(Start);
        var store = await NewStoreAsync(clock: clock);
        await store.SubmitAsync(Specs.Plan(Specs.Task("t") with { MaxAttempts = 3, RetryBackoffMs = 1000, RetryBackoffMaxMs = 60_000 }), None);
        var first = Assert.Single(await store.ClaimAsync(SiloA, 1, None));

        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(first, "try later"), None));

        var task = await GetAsync(store, "t");
        Assert.Equal((TaskStatus.Scheduled, 1), (task.Status, task.Attempts));
        Assert.Equal("backoff", task.BlockedBy?.Reason);
        // Equal jitter: the first retry waits from half to all of the base delay.
        var until = Assert.NotNull(task.BlockedBy!.Until);
        Assert.InRange(until - Start, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(1000));
        Assert.Empty(await store.ClaimAsync(SiloA, 1, None));

        // Not due yet: nothing moves, and the store says when to look again.
        var next = await store.FireRemindersAsync(100, None);
        Assert.Equal(until, next);
        Assert.Equal(TaskStatus.Scheduled, (await GetAsync(store, "t")).Status);

        clock.Advance(until - Start);
        await store.FireRemindersAsync(100, None);

        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "t")).Status);
        var second = Assert.Single(await store.ClaimAsync(SiloA, 1, None));
        Assert.Equal(2, second.Attempt);
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_task_with_a_future_run_at_is_scheduled_and_queued_when_it_is_reached()
    {
        var clock = new ManualClock(Start);
        var store = await NewStoreAsync(clock: clock);
        var runAt = Start.AddMinutes(10);

        var submitted = await store.SubmitAsync(Specs.Plan(Specs.Task("later") with { RunAt = runAt }, Specs.Task("now")), None);

        Assert.Equal(TaskStatus.Scheduled, submitted.Single(s => s.Id == "later").Status);
        var later = await GetAsync(store, "later");
        Assert.Equal(("run_at", runAt), (later.BlockedBy?.Reason, later.BlockedBy?.Until));
        var now = Assert.Single(await store.ClaimAsync(SiloA, 5, None));
        Assert.Equal("now", now.TaskId);
        Assert.True(await store.ReportAsync(AttemptOutcome.Success(now, null), None));

        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(runAt, await store.FireRemindersAsync(100, None));
        Assert.Equal(TaskStatus.Scheduled, (await GetAsync(store, "later")).Status);

        clock.Advance(TimeSpan.FromMinutes(1));
        await store.FireRemindersAsync(100, None);
        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "later")).Status);
        Assert.Equal(["later"], (await store.ClaimAsync(SiloA, 5, None)).Select(l => l.TaskId));
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task A_released_dependent_with_a_future_run_at_waits_for_it()
    {
        var clock = new ManualClock(Start);
        var store = await NewStoreAsync(clock: clock);
        await store.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("b", "a") with { RunAt = Start.AddMinutes(5) }), None);

        await CompleteAsync(store, "a");

        Assert.Equal(TaskStatus.Scheduled, (await GetAsync(store, "b")).Status);
        clock.Advance(TimeSpan.FromMinutes(5));
        await store.FireRemindersAsync(100, None);
        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "b")).Status);
    }

    [SkippableFact]
    public async Task Cancelling_a_queued_task_dooms_its_descendants_and_a_terminal_one_is_a_conflict()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("b", "a"), Specs.Task("c", "b")), None);

        Assert.Equal(TaskStatus.Cancelled, await store.CancelAsync("a", None));

        Assert.Equal(TaskStatus.Cancelled, (await GetAsync(store, "a")).Status);
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(store, "b")).Status);
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(store, "c")).Status);
        Assert.Empty(await store.ClaimAsync(SiloA, 5, None));
        var conflict = await Assert.ThrowsAsync<TaskConflictException>(() => store.CancelAsync("a", None));
        Assert.Equal("a", conflict.TaskId);
        Assert.Null(await store.CancelAsync("ghost", None));
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task Cancelling_a_running_task_frees_its_slot_and_fences_out_its_report()
    {
        var store = await NewStoreAsync(maxConcurrentTasks: 1);
        await store.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("next")), None);
        var lease = Assert.Single(await store.ClaimAsync(SiloA, 1, None));

        Assert.Equal(TaskStatus.Cancelled, await store.CancelAsync("a", None));

        Assert.Equal(0, (await store.GetSlotsAsync(None)).InUse);
        Assert.False(await store.ReportAsync(AttemptOutcome.Success(lease, null), None));
        Assert.Equal(TaskStatus.Cancelled, (await GetAsync(store, "a")).Status);
        Assert.Equal(["next"], (await store.ClaimAsync(SiloA, 1, None)).Select(l => l.TaskId));
        await AssertCountersMatchAsync(store);
    }

    [SkippableFact]
    public async Task Retrying_a_failed_task_rearms_it_and_its_upstream_failed_subgraph()
    {
        var store = await NewStoreAsync();
        await store.SubmitAsync(Specs.Plan(Specs.Task("a") with { MaxAttempts = 1 }, Specs.Task("b", "a"), Specs.Task("c", "b")), None);
        var lease = Assert.Single(await store.ClaimAsync(SiloA, 1, None));
        Assert.True(await store.ReportAsync(AttemptOutcome.Failure(lease, "boom"), None));
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(store, "c")).Status);

        Assert.Equal(TaskStatus.Queued, await store.RetryAsync("a", None));

        var a = await GetAsync(store, "a");
        Assert.Equal((TaskStatus.Queued, 0, (string?)null), (a.Status, a.Attempts, a.Error));
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(store, "b")).Status);
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(store, "c")).Status);
        await AssertCountersMatchAsync(store);

        await CompleteAsync(store, "a");
        Assert.Equal(TaskStatus.Queued, (await GetAsync(store, "b")).Status);
        await Assert.ThrowsAsync<TaskConflictException>(() => store.RetryAsync("a", None));
        Assert.Null(await store.RetryAsync("ghost", None));
    }
}
