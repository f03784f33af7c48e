using OrleansScheduler.Grains.Tests.Cluster;
using OrleansScheduler.Testing;

namespace OrleansScheduler.Grains.Tests.Recovery;

/// <summary>A silo of a PostgreSQL cluster stopping gracefully (a deployment's rolling restart):
/// its running attempt is handed back without counting and runs again on a silo that stays. The
/// class has a cluster of its own, since it stops one of its silos.</summary>
public sealed class PostgresSiloStopTests(PostgresClusterFixture fixture) : IClassFixture<PostgresClusterFixture>
{
    [SkippableFact]
    public async Task A_stopping_silo_hands_its_attempt_back_and_another_silo_runs_it_uncounted()
    {
        var cluster = fixture.Cluster;
        var id = "handed-" + Guid.NewGuid().ToString("N")[..6];
        var task = cluster.Grains.GetTaskGrain(id);
        await task.SubmitAsync(new TaskSpec(id, GateHandler.TypeName, 0, [], null, TaskSpec.DefaultPriority, null, null, MaxAttempts: 1));
        var running = await WaitAsync(cluster, id, t => t.Status == TaskStatus.Running && cluster.Probe.ExecutionsOf(id).Count == 1, "runs");
        var first = running.WorkerId!;

        await cluster.TestCluster.StopSiloAsync(cluster.TestCluster.Silos.Single(s => s.Name == first));

        // Handed back, QUEUED again without using up its only attempt, and granted to a silo that
        // stays; its first execution was cancelled by the stop.
        var again = await WaitAsync(cluster, id, t => t.Status == TaskStatus.Running && t.WorkerId != first, "runs on another silo");
        Assert.Equal(1, again.Attempts);
        Assert.Equal("cancelled", cluster.Probe.ExecutionsOf(id)[0].Outcome);
        cluster.Probe.Open(id);
        var done = await WaitAsync(cluster, id, t => t.Status == TaskStatus.Completed, "completes");
        Assert.Equal(1, done.Attempts);

        var events = (await task.GetEventsAsync())!;
        Assert.Equal(
            [(null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed)],
            events.Select(e => ((TaskStatus?)e.From, e.To)));
        Assert.Contains("handed back", events[2].Reason, StringComparison.Ordinal);
        Assert.Equal([(first, 1), (first, 1), (done.WorkerId, 1), (done.WorkerId, 1)], events.Where(e => e.Attempt is not null).Select(e => (e.SiloId, e.Attempt!.Value)));
        // The slot goes back through the silo's batcher after the completion is written.
        await Poll.UntilAsync("the slot is given back", () => cluster.Grains.GetConcurrencyGrain().GetSlotsAsync(),
            slots => slots.Holders.Count == 0, slots => string.Join(", ", slots.Holders.Select(h => $"{h.TaskId}@{h.SiloId}")), TimeSpan.FromSeconds(30));
    }

    private static async Task<TaskView> WaitAsync(SchedulerCluster cluster, string id, Func<TaskView, bool> done, string what)
    {
        try
        {
            return await Poll.UntilAsync($"{id} {what}", async () => (await cluster.Grains.GetTaskGrain(id).GetAsync())!, done,
                t => $"{t.Status.ToName()} on {t.WorkerId} attempts {t.Attempts}", TimeSpan.FromSeconds(30));
        }
        catch (Xunit.Sdk.XunitException ex)
        {
            throw new Xunit.Sdk.XunitException(ex.Message + Environment.NewLine + cluster.RecentLog());
        }
    }
}
