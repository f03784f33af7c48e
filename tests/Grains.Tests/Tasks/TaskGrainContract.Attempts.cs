using OrleansScheduler.Grains.Tests.Cluster;

namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>Attempts: retries and their backoff, the last failure, timeouts, the order slots are
/// granted in, and the cluster-wide limit.</summary>
public abstract partial class TaskGrainContract
{
    [SkippableFact]
    public async Task A_failed_attempt_waits_its_backoff_scheduled_then_runs_again()
    {
        var id = Id("flaky");
        var hour = (long)TimeSpan.FromHours(1).TotalMilliseconds;
        Probe.FailNext(id);
        await SubmitAsync(Gate(id) with { MaxAttempts = 3, RetryBackoffMs = hour, RetryBackoffMaxMs = hour });

        var waiting = await WaitForStatusAsync(id, TaskStatus.Scheduled);
        var failedAt = When(await EventsAsync(id), TaskStatus.Scheduled);

        Assert.Equal((1, "backoff"), (waiting.Attempts, waiting.BlockedBy?.Reason));
        Assert.Contains("fails as the test asked", waiting.Error, StringComparison.Ordinal);
        // Equal jitter: the first retry waits from half to all of the base delay.
        var until = Assert.NotNull(waiting.BlockedBy!.Until);
        Assert.InRange(until - failedAt, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(60));

        // Not due yet: a sweep leaves it be.
        await Grains.GetGrain<ISweeperGrain>(0).SweepAsync();
        Assert.Equal(TaskStatus.Scheduled, (await GetAsync(id)).Status);

        Cluster.Clock.Advance(until - Cluster.Clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        await Grains.GetGrain<ISweeperGrain>(0).SweepAsync();
        await WaitUntilRunningAsync(id, attempt: 2);
        Probe.Open(id);
        var done = await WaitForStatusAsync(id, TaskStatus.Completed);

        Assert.Equal((2, (string?)null), (done.Attempts, done.Error));
        var events = await AssertHistoryAsync(id,
            (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Scheduled),
            (TaskStatus.Scheduled, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed));
        Assert.Equal([1, 1, 2, 2], events.Where(e => e.Attempt is not null).Select(e => e.Attempt!.Value));
        Assert.Contains("retrying after", events[2].Reason, StringComparison.Ordinal);
        Assert.Contains("backoff", events[3].Reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task The_last_failed_attempt_ends_the_task_failed_with_its_error()
    {
        var id = Id("hopeless");
        await SubmitAsync(Sim(id) with { MaxAttempts = 2, RetryBackoffMs = 0, Payload = Json("""{"simulate":{"fail_attempts":9}}""") });

        var task = await WaitForStatusAsync(id, TaskStatus.Failed);

        Assert.Equal(2, task.Attempts);
        Assert.Equal("simulated failure of attempt 2 (payload.simulate.fail_attempts = 9)", task.Error);
        Assert.NotNull(task.CompletedAt);
        Assert.Null(task.Result);
        var events = await AssertHistoryAsync(id,
            (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Queued),
            (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Failed));
        Assert.Contains("retrying now", events[2].Reason, StringComparison.Ordinal);
        Assert.Contains("no attempts left", events[4].Reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_success_records_the_handlers_result()
    {
        var id = Id("answer");
        await SubmitAsync(Gate(id));
        await WaitUntilRunningAsync(id);
        var running = await GetAsync(id);
        Assert.NotNull(running.StartedAt);
        Assert.NotNull(running.WorkerId);
        Assert.Null(running.BlockedBy);

        Probe.Open(id, """{"rows":42}""");
        var task = await WaitForStatusAsync(id, TaskStatus.Completed);

        Assert.Equal(42, task.Result?.GetProperty("rows").GetInt32());
        Assert.Equal((1, running.WorkerId), (task.Attempts, task.WorkerId));
        Assert.True(task.CompletedAt >= task.StartedAt);
        var execution = Assert.Single(Probe.ExecutionsOf(id));
        Assert.Equal((1, running.WorkerId, "succeeded"), (execution.Attempt, execution.Silo, execution.Outcome));
    }

    [SkippableFact]
    public async Task An_attempt_past_its_timeout_is_cancelled_and_fails()
    {
        var id = Id("slow");
        await SubmitAsync(Gate(id) with { TimeoutMs = 300, MaxAttempts = 1 });

        var task = await WaitForStatusAsync(id, TaskStatus.Failed);

        Assert.Contains("timed out after 300 ms", task.Error, StringComparison.Ordinal);
        await WaitForHandlerAsync(id, e => e.Outcome == "cancelled", "saw its token fire");
        await AssertHistoryAsync(id, (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Failed));
    }

    [SkippableFact]
    public async Task Slots_go_to_higher_priorities_first_then_to_the_oldest()
    {
        // Every slot but one is held, and that one by a gate: the queue forms behind it and is
        // then served one at a time.
        var holders = Enumerable.Range(1, Limit).Select(i => Id($"holder{i}")).ToList();
        foreach (var holder in holders)
        {
            await SubmitAsync(Gate(holder) with { Priority = TaskSpec.MaxPriority });
            await WaitUntilRunningAsync(holder);
        }

        var queue = new[] { ("low", 1), ("high-old", 10), ("mid-old", 5), ("high-new", 10), ("mid-new", 5) };
        foreach (var (name, priority) in queue)
        {
            await SubmitAsync(Sim(Id(name)) with { Type = CountingHandler.TypeName, Priority = priority });
        }

        var blocked = await GetAsync(Id("low"));
        Assert.Equal(("slots", Limit), (blocked.BlockedBy?.Reason, blocked.BlockedBy?.SlotHolders?.Count));
        Assert.Equal(holders.Order(StringComparer.Ordinal), blocked.BlockedBy!.SlotHolders!.Order(StringComparer.Ordinal));

        Probe.Open(holders[0]);
        foreach (var (name, _) in queue)
        {
            await WaitForStatusAsync(Id(name), TaskStatus.Completed);
        }

        var order = Probe.Executions.Select(e => e.TaskId).Where(t => queue.Any(q => Id(q.Item1) == t)).ToList();
        Assert.Equal(["high-old", "high-new", "mid-old", "mid-new", "low"], order.Select(t => t[(t.IndexOf('-', StringComparison.Ordinal) + 1)..]));
    }

    [SkippableFact]
    public async Task The_cluster_wide_limit_is_never_exceeded()
    {
        var ids = Enumerable.Range(0, 16).Select(i => Id($"t{i:00}")).ToList();

        await Grains.GetCatalogGrain().SubmitBatchAsync(ids.Select(id => Sim(id) with { Type = CountingHandler.TypeName, DurationMs = 40 }).ToList());
        foreach (var id in ids)
        {
            await WaitForStatusAsync(id, TaskStatus.Completed);
        }

        // From the handlers: never more running at once than the limit, each task once.
        var executions = Probe.Executions.Where(e => ids.Contains(e.TaskId)).ToList();
        Assert.InRange(ClusterProbe.Execution.Peak(executions), 1, Limit);
        Assert.Equal(ids.Order(StringComparer.Ordinal), executions.Select(e => e.TaskId).Order(StringComparer.Ordinal));

        // From the recorded history: the RUNNING intervals never overlap more than the limit.
        var edges = new List<(DateTimeOffset At, int Delta)>();
        foreach (var id in ids)
        {
            var events = await AssertHistoryAsync(id,
                (null, TaskStatus.Queued), (TaskStatus.Queued, TaskStatus.Running), (TaskStatus.Running, TaskStatus.Completed));
            edges.Add((When(events, TaskStatus.Running), +1));
            edges.Add((When(events, TaskStatus.Completed), -1));
        }

        var (running, peak) = (0, 0);
        foreach (var (_, delta) in edges.OrderBy(e => e.At).ThenBy(e => e.Delta))
        {
            running += delta;
            peak = Math.Max(peak, running);
        }

        Assert.InRange(peak, 1, Limit);
    }
}
