using System.Text.Json;

namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>Fences: the slot grant an attempt runs under is the only one whose report counts, and
/// a task takes a grant once. (The storage's ETag fence is tested on the provider itself:
/// Storage/TaskStateStorageContract.)</summary>
public abstract partial class TaskGrainContract
{
    [SkippableFact]
    public async Task A_report_under_another_grant_is_rejected_and_changes_nothing()
    {
        var (id, child) = (Id("t"), Id("child"));
        await SubmitAsync(Gate(id));
        await SubmitAsync(Sim(child, id));
        await WaitUntilRunningAsync(id);
        var live = await LiveLeaseAsync(id);
        var before = await SnapshotAsync(id);

        Assert.False(await Grain(id).EndAttemptAsync(AttemptOutcome.Success(live with { GrantId = live.GrantId - 1 }, null)));
        Assert.False(await Grain(id).EndAttemptAsync(AttemptOutcome.Success(live with { GrantId = live.GrantId + 1 }, null)));
        Assert.False(await Grain(id).EndAttemptAsync(AttemptOutcome.Failure(live with { GrantId = live.GrantId + 1 }, "late")));
        Assert.False(await Grain(id).HandBackAsync(live with { GrantId = live.GrantId + 1 }, "not mine"));

        Assert.Equal(before, await SnapshotAsync(id));
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(child)).Status);

        // The live attempt reports; once it has, the same report again is stale.
        Probe.Open(id);
        await WaitForStatusAsync(id, TaskStatus.Completed);
        var done = await SnapshotAsync(id);
        Assert.False(await Grain(id).EndAttemptAsync(AttemptOutcome.Success(live, null)));
        Assert.False(await Grain(id).EndAttemptAsync(AttemptOutcome.Failure(live, "again")));
        Assert.Equal(done, await SnapshotAsync(id));
        await WaitForStatusAsync(child, TaskStatus.Completed);
    }

    [SkippableFact]
    public async Task A_report_after_a_cancel_is_rejected()
    {
        var id = Id("t");
        await SubmitAsync(Gate(id));
        await WaitUntilRunningAsync(id);
        var live = await LiveLeaseAsync(id);

        Assert.Equal(TaskStatus.Cancelled, await Grain(id).CancelAsync());
        var cancelled = await SnapshotAsync(id);

        Assert.False(await Grain(id).EndAttemptAsync(AttemptOutcome.Success(live, null)));
        Assert.False(await Grain(id).HandBackAsync(live, "too late"));
        Assert.Equal(cancelled, await SnapshotAsync(id));
        await AssertHistoryAsync(id, (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Cancelled));
    }

    [SkippableFact]
    public async Task A_report_of_an_earlier_attempt_after_a_retry_is_rejected()
    {
        var id = Id("t");
        await SubmitAsync(Gate(id) with { RetryBackoffMs = 0 });
        await WaitUntilRunningAsync(id);
        var first = await LiveLeaseAsync(id);
        Probe.Fail(id);
        await WaitUntilRunningAsync(id, attempt: 2);
        var second = await LiveLeaseAsync(id);
        Assert.True(first.GrantId < second.GrantId, $"grant of attempt 1 ({first.GrantId}) is not older than attempt 2's ({second.GrantId})");
        var before = await SnapshotAsync(id);

        Assert.False(await Grain(id).EndAttemptAsync(AttemptOutcome.Success(first, null)));

        Assert.Equal(before, await SnapshotAsync(id));
        Assert.True(await Grain(id).EndAttemptAsync(AttemptOutcome.Success(second, Json("""{"by":"test"}"""))));
        var task = await GetAsync(id);
        Assert.Equal((TaskStatus.Completed, 2, "test"), (task.Status, task.Attempts, task.Result?.GetProperty("by").GetString()));
    }

    [SkippableFact]
    public async Task A_grant_the_task_already_took_is_refused()
    {
        // y's first attempt fails into an hour's backoff; meanwhile gates take every slot; then y
        // is due and QUEUED with no slot free, when an old copy of its first grant arrives.
        var y = Id("y");
        var hour = (long)TimeSpan.FromHours(1).TotalMilliseconds;
        await SubmitAsync(Gate(y) with { RetryBackoffMs = hour, RetryBackoffMaxMs = hour, Priority = 1 });
        await WaitUntilRunningAsync(y);
        var firstGrant = (await LiveLeaseAsync(y)).GrantId;
        Probe.Fail(y);
        await WaitForStatusAsync(y, TaskStatus.Scheduled);
        var holders = Enumerable.Range(1, Limit).Select(i => Id($"holder{i}")).ToList();
        foreach (var holder in holders)
        {
            await SubmitAsync(Gate(holder));
            await WaitUntilRunningAsync(holder);
        }

        Cluster.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        await Grains.GetGrain<ISweeperGrain>(0).SweepAsync();
        await WaitForStatusAsync(y, TaskStatus.Queued);
        var before = await SnapshotAsync(y);

        await Grain(y).StartAsync(new SlotGrant(firstGrant, 1));
        await Grain(y).StartAsync(new SlotGrant(firstGrant - 1, 1));

        // Calls from one client to one grain arrive in order: this read comes after the grants.
        Assert.Equal(before, await SnapshotAsync(y));
        Assert.Single(Probe.ExecutionsOf(y));
        Assert.Equal(holders.Order(StringComparer.Ordinal), (await Grains.GetConcurrencyGrain().GetSlotsAsync()).Holders.Select(h => h.TaskId).Order(StringComparer.Ordinal));

        // A slot freed the right way reaches it.
        Probe.Open(y);
        Probe.Open(holders[0]);
        var done = await WaitForStatusAsync(y, TaskStatus.Completed);
        Assert.Equal(2, done.Attempts);
    }

    /// <summary>The lease of the task's RUNNING attempt, as its executor holds it: the grant read
    /// from the task's row.</summary>
    private async Task<AttemptLease> LiveLeaseAsync(string id)
    {
        var task = await GetAsync(id);
        Assert.Equal(TaskStatus.Running, task.Status);
        var grant = await Cluster.ScalarAsync<long>("SELECT grant_id FROM tasks WHERE id = @id", ("@id", id));
        return new AttemptLease(id, task.Attempts, task.MaxAttempts, grant, task.WorkerId!, task.Type, task.DurationMs, task.Payload, task.TimeoutMs, task.StartedAt!.Value);
    }

    /// <summary>Everything about a task that a refused call must leave as it was.</summary>
    private async Task<string> SnapshotAsync(string id)
    {
        var task = await GetAsync(id);
        var events = await EventsAsync(id);
        var slots = await Grains.GetConcurrencyGrain().GetSlotsAsync();
        var row = await Cluster.RowsAsync("SELECT status, attempts, grant_id, version FROM tasks WHERE id = @id", ("@id", id));
        return JsonSerializer.Serialize(new
        {
            task.Status,
            task.Attempts,
            task.WorkerId,
            task.StartedAt,
            task.CompletedAt,
            task.Error,
            Result = task.Result?.GetRawText(),
            Events = events.Count,
            Row = row.Single().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)),
            Holders = slots.Holders.Where(h => h.TaskId == id).Select(h => $"{h.Slot}:{h.SiloId}:{h.Attempt}"),
        });
    }
}
