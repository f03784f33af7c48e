namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>The DAG between grains: subscriptions, notifications, and what a task learns from the
/// database when a notification never reached it.</summary>
public abstract partial class TaskGrainContract
{
    [SkippableFact]
    public async Task A_dependent_runs_only_after_all_its_dependencies_completed()
    {
        var (a, b, c) = (Id("a"), Id("b"), Id("c"));
        await SubmitAsync(Gate(a));
        await SubmitAsync(Gate(b));
        await SubmitAsync(Sim(c, a, b));
        await WaitUntilRunningAsync(a);
        await WaitUntilRunningAsync(b);

        Probe.Open(a);
        await WaitForStatusAsync(a, TaskStatus.Completed);
        var half = await GetAsync(c);
        Assert.Equal(TaskStatus.Waiting, half.Status);
        Assert.Equal([new DependencyState(b, TaskStatus.Running)], half.BlockedBy!.Dependencies);
        Assert.Contains(b, half.BlockedBy.Message, StringComparison.Ordinal);

        Probe.Open(b);
        await WaitForStatusAsync(c, TaskStatus.Completed);
        var events = await AssertHistoryAsync(c,
            (null, TaskStatus.Waiting), (TaskStatus.Waiting, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed));
        var lastEnd = new[] { When(await AssertHistoryAsync(a), TaskStatus.Completed), When(await AssertHistoryAsync(b), TaskStatus.Completed) }.Max();
        Assert.True(When(events, TaskStatus.Queued) >= lastEnd, $"{c} was released at {When(events, TaskStatus.Queued):O}, before its last dependency ended at {lastEnd:O}");
    }

    [SkippableFact]
    public async Task A_failure_makes_every_descendant_upstream_failed_naming_the_cause()
    {
        var (root, other, mid, side, leaf, join) = (Id("root"), Id("other"), Id("mid"), Id("side"), Id("leaf"), Id("join"));
        await SubmitAsync(Gate(other));
        await Grains.GetCatalogGrain().SubmitBatchAsync([
            Sim(root) with { MaxAttempts = 2, RetryBackoffMs = 0, Payload = Json("""{"simulate":{"fail_attempts":5}}""") },
            Sim(mid, root), Sim(side, root), Sim(leaf, mid), Sim(join, mid, other)]);

        var failed = await WaitForStatusAsync(root, TaskStatus.Failed);

        Assert.Equal(2, failed.Attempts);
        Assert.Contains("attempt 2", failed.Error, StringComparison.Ordinal);
        foreach (var id in new[] { mid, side, leaf, join })
        {
            var task = await WaitForStatusAsync(id, TaskStatus.UpstreamFailed);
            Assert.Equal(0, task.Attempts);
            Assert.Null(task.StartedAt);
            // The root of the failure, however the task learned of it: a notification down the
            // graph, or its dependencies' statuses read on activation (the dependents of a whole
            // DAG are activated by the first notification they get).
            Assert.Equal($"upstream task '{root}' ended FAILED", task.Error);
            await AssertHistoryAsync(id, (null, TaskStatus.Waiting), (TaskStatus.Waiting, TaskStatus.UpstreamFailed));
        }

        Assert.Equal(TaskStatus.Running, (await GetAsync(other)).Status);
        Assert.Empty(Probe.ExecutionsOf(join));

        // A task submitted below the failure later names the same root.
        var late = Id("late");
        Assert.Equal(TaskStatus.UpstreamFailed, (await SubmitAsync(Sim(late, leaf))).Status);
        Assert.Equal($"upstream task '{root}' ended FAILED", (await GetAsync(late)).Error);
    }

    [SkippableFact]
    public async Task Notifications_are_idempotent()
    {
        var (a, gate, c, f, doomed) = (Id("a"), Id("gate"), Id("c"), Id("f"), Id("doomed"));
        await SubmitAsync(Sim(a));
        await SubmitAsync(Gate(gate));
        await SubmitAsync(Sim(c, a, gate));
        await WaitForStatusAsync(a, TaskStatus.Completed);
        await WaitForAsync(c, t => t.BlockedBy?.Dependencies?.Count == 1, "waits for one dependency only");
        var before = (await EventsAsync(c)).Count;

        // The same completion again, and again: c still waits for the gate.
        await Grain(c).UpstreamCompletedAsync(a);
        await Grain(c).UpstreamCompletedAsync(a);
        var view = await GetAsync(c);
        Assert.Equal((TaskStatus.Waiting, before), (view.Status, (await EventsAsync(c)).Count));
        Assert.Equal([gate], view.BlockedBy!.Dependencies!.Select(d => d.Id));

        Probe.Open(gate);
        await WaitForStatusAsync(c, TaskStatus.Completed);
        await Grain(c).UpstreamCompletedAsync(gate);
        Assert.Equal(TaskStatus.Completed, (await GetAsync(c)).Status);

        // A failure told twice changes nothing the second time.
        await SubmitAsync(Sim(f) with { MaxAttempts = 1, Payload = Json("""{"simulate":{"fail_attempts":1}}""") });
        await SubmitAsync(Sim(doomed, f));
        await WaitForStatusAsync(doomed, TaskStatus.UpstreamFailed);
        var after = (await EventsAsync(doomed)).Count;
        await Grain(doomed).UpstreamFailedAsync(f, f, TaskStatus.Failed);
        await Grain(doomed).UpstreamFailedAsync(f, f, TaskStatus.Failed);
        Assert.Equal(after, (await EventsAsync(doomed)).Count);
        await AssertHistoryAsync(doomed, (null, TaskStatus.Waiting), (TaskStatus.Waiting, TaskStatus.UpstreamFailed));
    }

    [SkippableFact]
    public async Task A_waiting_task_whose_completion_notice_was_lost_settles_when_woken_or_activated()
    {
        var (a, woken, activated, swept) = (Id("a"), Id("woken"), Id("activated"), Id("swept"));
        await SubmitAsync(Gate(a));
        foreach (var id in new[] { woken, activated, swept })
        {
            await SubmitAsync(Sim(id, a));
            Probe.LoseNotificationsTo(id);
        }

        Probe.Open(a);
        await WaitForStatusAsync(a, TaskStatus.Completed);

        // The database says a COMPLETED; the dependents never heard it. (Read from their rows: a GET
        // would activate them, and an activation settles itself from its dependencies' rows.)
        Assert.Equal(TaskStatus.Waiting, await Cluster.StoredStatusAsync(woken));
        Assert.Equal(TaskStatus.Waiting, await Cluster.StoredStatusAsync(activated));

        // Recovery's nudge reads the dependencies' statuses from the database.
        await Grain(woken).WakeAsync();
        await WaitForStatusAsync(woken, TaskStatus.Completed);

        // A fresh activation reads them with its state.
        await Cluster.TestCluster.DeactivateAsync(Grain(activated));
        Assert.NotEqual(TaskStatus.Waiting, (await GetAsync(activated)).Status);
        await WaitForStatusAsync(activated, TaskStatus.Completed);

        // And the sweeper finds the one nobody asked about.
        await Grains.GetGrain<ISweeperGrain>(0).SweepAsync();
        await WaitForStatusAsync(swept, TaskStatus.Completed);
        foreach (var id in new[] { woken, activated, swept })
        {
            Probe.HearNotificationsTo(id);
            await AssertHistoryAsync(id,
                (null, TaskStatus.Waiting), (TaskStatus.Waiting, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed));
        }
    }

    [SkippableFact]
    public async Task A_waiting_task_whose_failure_notice_was_lost_is_upstream_failed_by_the_sweeper()
    {
        var (a, deaf) = (Id("a"), Id("deaf"));
        await SubmitAsync(Gate(a));
        await SubmitAsync(Sim(deaf, a));
        Probe.LoseNotificationsTo(deaf);

        Assert.Equal(TaskStatus.Cancelled, await Grain(a).CancelAsync());
        Assert.Equal(TaskStatus.Waiting, await Cluster.StoredStatusAsync(deaf));

        await Grains.GetGrain<ISweeperGrain>(0).SweepAsync();

        var task = await WaitForStatusAsync(deaf, TaskStatus.UpstreamFailed);
        Assert.Equal($"upstream task '{a}' ended CANCELLED", task.Error);
        Probe.HearNotificationsTo(deaf);
        await AssertHistoryAsync(deaf, (null, TaskStatus.Waiting), (TaskStatus.Waiting, TaskStatus.UpstreamFailed));
    }
}
