namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>The ConcurrencyGrain: its holders are durable, and its recovery re-sends grants
/// without disturbing an attempt that is alive.</summary>
public abstract partial class TaskGrainContract
{
    [SkippableFact]
    public async Task The_concurrency_grain_keeps_its_holders_across_its_reactivation()
    {
        var holders = Enumerable.Range(1, Limit).Select(i => Id($"holder{i}")).ToList();
        foreach (var holder in holders)
        {
            await SubmitAsync(Gate(holder));
            await WaitUntilRunningAsync(holder);
        }

        var queued = Id("queued");
        await SubmitAsync(Sim(queued));
        var concurrency = Grains.GetConcurrencyGrain();
        await Cluster.TestCluster.DeactivateAsync(concurrency);

        // A fresh activation reads its holders; its recovery re-sends them their grants and grants
        // what is free: nothing.
        await concurrency.RecoverAsync();

        var slots = await concurrency.GetSlotsAsync();
        Assert.Equal((Limit, Limit), (slots.Limit, slots.InUse));
        Assert.Equal(holders.Order(StringComparer.Ordinal), slots.Holders.Select(h => h.TaskId).Order(StringComparer.Ordinal));
        var waiting = await GetAsync(queued);
        Assert.Equal((TaskStatus.Queued, "slots"), (waiting.Status, waiting.BlockedBy?.Reason));
        Assert.Equal(holders.Order(StringComparer.Ordinal), waiting.BlockedBy!.SlotHolders!.Order(StringComparer.Ordinal));

        // The holders' attempts are alive: the re-sent grants changed nothing for them.
        foreach (var holder in holders)
        {
            var task = await GetAsync(holder);
            Assert.Equal((TaskStatus.Running, 1), (task.Status, task.Attempts));
            await AssertHistoryAsync(holder, (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running));
        }

        // The slot is counted until its holder gives it back.
        Probe.Open(holders[0]);
        var done = await WaitForStatusAsync(queued, TaskStatus.Completed);
        Assert.True(done.StartedAt >= (await GetAsync(holders[0])).CompletedAt);
        Assert.Equal(TaskStatus.Running, (await GetAsync(holders[^1])).Status);
    }
}
