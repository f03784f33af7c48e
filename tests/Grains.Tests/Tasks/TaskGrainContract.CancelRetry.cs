namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>What users do to a task: cancel it in any status that has not ended, and retry a
/// failed subgraph.</summary>
public abstract partial class TaskGrainContract
{
    [SkippableFact]
    public async Task Cancel_ends_a_task_in_every_status_that_has_not_ended_and_dooms_its_dependents()
    {
        // Every slot is held by a gate (the first one is the RUNNING task to cancel), so the
        // queued task stays QUEUED.
        var holders = Enumerable.Range(1, Limit).Select(i => Id($"holder{i}")).ToList();
        foreach (var holder in holders)
        {
            await SubmitAsync(Gate(holder));
            await WaitUntilRunningAsync(holder);
        }

        var (running, queued, waiting, scheduled, below, next) = (holders[0], Id("queued"), Id("waiting"), Id("scheduled"), Id("below"), Id("next"));
        await SubmitAsync(Sim(queued));
        await SubmitAsync(Sim(waiting, holders[^1]));
        await SubmitAsync(Sim(scheduled) with { RunAt = Cluster.Clock.GetUtcNow().AddHours(1) });
        await SubmitAsync(Sim(below, scheduled, queued));

        foreach (var (id, status) in new[] { (waiting, TaskStatus.Waiting), (scheduled, TaskStatus.Scheduled), (queued, TaskStatus.Queued) })
        {
            Assert.Equal(status, (await GetAsync(id)).Status);
            Assert.Equal(TaskStatus.Cancelled, await Grain(id).CancelAsync());
            var task = await GetAsync(id);
            Assert.Equal((TaskStatus.Cancelled, "cancelled by user", (BlockedBy?)null), (task.Status, task.Error, task.BlockedBy));
            var events = await AssertHistoryAsync(id);
            Assert.Equal((status, TaskStatus.Cancelled), (events[^1].From, events[^1].To));
        }

        // Its dependents are UPSTREAM_FAILED by the time the cancel answered.
        var doomed = await GetAsync(below);
        Assert.Equal(TaskStatus.UpstreamFailed, doomed.Status);
        Assert.Contains(scheduled, doomed.Error, StringComparison.Ordinal);

        // A RUNNING task: its handler is stopped and its slot is free at once.
        await SubmitAsync(Sim(next));
        Assert.Equal(TaskStatus.Cancelled, await Grain(running).CancelAsync());
        await WaitForHandlerAsync(running, e => e.Outcome == "cancelled", "saw its token fire");
        await WaitForStatusAsync(next, TaskStatus.Completed);
        var cancelled = await GetAsync(running);
        Assert.Equal((TaskStatus.Cancelled, 1), (cancelled.Status, cancelled.Attempts));
        Assert.DoesNotContain((await Grains.GetConcurrencyGrain().GetSlotsAsync()).Holders, h => h.TaskId == running);
        await AssertHistoryAsync(running, (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Cancelled));

        // An ended task cannot be cancelled (409), and an unknown one is not found.
        foreach (var id in new[] { running, queued, below, next })
        {
            var conflict = await Assert.ThrowsAsync<TaskConflictException>(() => Grain(id).CancelAsync());
            Assert.Equal(id, conflict.TaskId);
        }

        Assert.Null(await Grain(Id("ghost")).CancelAsync());
    }

    [SkippableFact]
    public async Task Retry_rearms_the_failed_subgraph_with_fresh_attempts()
    {
        var (a, b, c, other) = (Id("a"), Id("b"), Id("c"), Id("other"));
        await SubmitAsync(Gate(a) with { MaxAttempts = 1 });
        await SubmitAsync(Sim(other));
        await SubmitAsync(Sim(b, a));
        await SubmitAsync(Sim(c, b, other));
        await WaitUntilRunningAsync(a);
        Probe.Fail(a);
        await WaitForStatusAsync(a, TaskStatus.Failed);
        await WaitForStatusAsync(c, TaskStatus.UpstreamFailed);

        // A task below the failure is not the one to retry.
        var refused = await Assert.ThrowsAsync<TaskConflictException>(() => Grain(b).RetryAsync());
        Assert.Contains(a, refused.Message, StringComparison.Ordinal);
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(b)).Status);

        Assert.Equal(TaskStatus.Queued, await Grain(a).RetryAsync());

        // The subgraph is WAITING again when the retry answers; the attempts start afresh.
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(b)).Status);
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(c)).Status);
        var rerun = await WaitForAsync(a, t => t.Status == TaskStatus.Running, "runs again");
        Assert.Equal((1, (string?)null), (rerun.Attempts, rerun.Error));
        Assert.Equal([1, 1], Probe.ExecutionsOf(a).Select(e => e.Attempt));
        Probe.Open(a);
        await WaitForStatusAsync(c, TaskStatus.Completed);

        await AssertHistoryAsync(a,
            (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Failed),
            (TaskStatus.Failed, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed));
        await AssertHistoryAsync(c,
            (null, TaskStatus.Waiting), (TaskStatus.Waiting, TaskStatus.UpstreamFailed), (TaskStatus.UpstreamFailed, TaskStatus.Waiting),
            (TaskStatus.Waiting, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed));

        // Only a task that ended badly can be retried; an unknown one is not found.
        await Assert.ThrowsAsync<TaskConflictException>(() => Grain(a).RetryAsync());
        Assert.Null(await Grain(Id("ghost")).RetryAsync());
    }

    [SkippableFact]
    public async Task A_cancelled_task_can_be_retried_and_its_dependents_wait_for_it_again()
    {
        var (a, b) = (Id("a"), Id("b"));
        await SubmitAsync(Gate(a));
        await SubmitAsync(Sim(b, a));
        Assert.Equal(TaskStatus.Cancelled, await Grain(a).CancelAsync());
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(b)).Status);

        await Grain(a).RetryAsync();

        Assert.Equal(TaskStatus.Waiting, (await GetAsync(b)).Status);
        Probe.Open(a);
        await WaitForStatusAsync(b, TaskStatus.Completed);
        Assert.Equal(1, (await GetAsync(a)).Attempts);
    }
}
