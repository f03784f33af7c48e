using OrleansScheduler.Grains.Tests.Cluster;

namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>Submission, one task at a time (ITaskGrain.SubmitAsync) and as a whole DAG
/// (ITaskCatalogGrain.SubmitBatchAsync).</summary>
public abstract partial class TaskGrainContract
{
    [SkippableFact]
    public async Task A_new_task_is_queued_waiting_or_scheduled_and_keeps_every_field()
    {
        var (gate, waiting, later) = (Id("gate"), Id("waiting"), Id("later"));
        var runAt = Cluster.Clock.GetUtcNow().AddHours(1);
        var spec = Gate(gate) with { DurationMs = 1234, Payload = Json("""{"to":"user@example.com","n":[1,2]}"""), Priority = 7, TimeoutMs = 60_000, MaxAttempts = 5 };

        Assert.Equal(new SubmittedTask(gate, TaskStatus.Queued), await SubmitAsync(spec));
        Assert.Equal(new SubmittedTask(waiting, TaskStatus.Waiting), await SubmitAsync(Sim(waiting, gate)));
        Assert.Equal(new SubmittedTask(later, TaskStatus.Scheduled), await SubmitAsync(Sim(later) with { RunAt = runAt }));

        var task = await GetAsync(gate);
        Assert.Equal((GateHandler.TypeName, 1234L, 7, 60_000L, 5), (task.Type, task.DurationMs, task.Priority, task.TimeoutMs!.Value, task.MaxAttempts));
        Assert.Equal("user@example.com", task.Payload?.GetProperty("to").GetString());
        Assert.Equal(2, task.Payload?.GetProperty("n").GetArrayLength());
        Assert.Empty(task.Dependencies);

        var blocked = await GetAsync(waiting);
        Assert.Equal((TaskStatus.Waiting, 0, "dependencies"), (blocked.Status, blocked.Attempts, blocked.BlockedBy?.Reason));
        Assert.Equal([gate], blocked.Dependencies);
        Assert.Equal([gate], blocked.BlockedBy!.Dependencies!.Select(d => d.Id));

        var scheduled = await GetAsync(later);
        Assert.Equal((TaskStatus.Scheduled, "run_at"), (scheduled.Status, scheduled.BlockedBy?.Reason));
        Assert.Equal(runAt.ToUnixTimeMilliseconds(), scheduled.BlockedBy!.Until?.ToUnixTimeMilliseconds());
        Assert.Equal(runAt.ToUnixTimeMilliseconds(), scheduled.RunAt?.ToUnixTimeMilliseconds());
        await AssertHistoryAsync(later, (null, TaskStatus.Scheduled));
        await AssertHistoryAsync(waiting, (null, TaskStatus.Waiting));
        Assert.Equal(TaskStatus.Cancelled, await Grain(later).CancelAsync());
    }

    [SkippableFact]
    public async Task A_dependency_that_completed_holds_nothing_back_and_one_that_failed_dooms_the_task_at_once()
    {
        var (done, failed, after, doomed) = (Id("done"), Id("failed"), Id("after"), Id("doomed"));
        await SubmitAsync(Sim(done));
        await SubmitAsync(Sim(failed) with { MaxAttempts = 1, Payload = Json("""{"simulate":{"fail_attempts":1}}""") });
        await WaitForStatusAsync(done, TaskStatus.Completed);
        await WaitForStatusAsync(failed, TaskStatus.Failed);

        Assert.Equal(TaskStatus.Queued, (await SubmitAsync(Sim(after, done))).Status);
        Assert.Equal(TaskStatus.UpstreamFailed, (await SubmitAsync(Sim(doomed, done, failed))).Status);

        var task = await GetAsync(doomed);
        Assert.Equal(TaskStatus.UpstreamFailed, task.Status);
        Assert.Contains(failed, task.Error, StringComparison.Ordinal);
        Assert.Contains("FAILED", task.Error, StringComparison.Ordinal);
        Assert.Null(task.BlockedBy);
        var events = await AssertHistoryAsync(doomed, (null, TaskStatus.UpstreamFailed));
        Assert.Contains(failed, events[0].Reason, StringComparison.Ordinal);
        await WaitForStatusAsync(after, TaskStatus.Completed);
    }

    [SkippableFact]
    public async Task A_taken_id_is_a_conflict_and_the_first_task_stands()
    {
        var id = Id("taken");
        await SubmitAsync(Sim(id) with { Type = "first", RunAt = Cluster.Clock.GetUtcNow().AddHours(1) });

        var error = await Assert.ThrowsAsync<TaskConflictException>(() => SubmitAsync(Sim(id) with { Type = "second" }));

        Assert.Equal(id, error.TaskId);
        Assert.Contains(id, error.Message, StringComparison.Ordinal);
        var task = await GetAsync(id);
        Assert.Equal(("first", TaskStatus.Scheduled), (task.Type, task.Status));
        await AssertHistoryAsync(id, (null, TaskStatus.Scheduled));
        await Grain(id).CancelAsync();
    }

    [SkippableFact]
    public async Task A_missing_dependency_is_named_and_nothing_is_written()
    {
        var (exists, task, ghost) = (Id("exists"), Id("orphan"), Id("ghost"));
        await SubmitAsync(Sim(exists));

        var error = await Assert.ThrowsAsync<TaskValidationException>(() => SubmitAsync(Sim(task, exists, ghost)));

        Assert.Equal("missing_dependency", error.Kind);
        Assert.Equal([ghost], error.Ids);
        Assert.Contains(ghost, error.Message, StringComparison.Ordinal);
        Assert.Null(await Grain(task).GetAsync());
        Assert.Null(await Grain(task).GetEventsAsync());
        Assert.Equal(0L, await Cluster.ScalarAsync<long>("SELECT count(*) FROM tasks WHERE id = @id", ("@id", task)));
    }

    [SkippableFact]
    public async Task Invalid_fields_are_named_and_nothing_is_written()
    {
        var id = Id("bad");

        var error = await Assert.ThrowsAsync<TaskValidationException>(() => SubmitAsync(Sim(id) with { Priority = 11, MaxAttempts = 0, TimeoutMs = 0 }));
        Assert.Equal("invalid", error.Kind);
        Assert.Equal(["max_attempts", "priority", "timeout_ms"], error.Errors.Keys.Order(StringComparer.Ordinal));

        var cycle = await Assert.ThrowsAsync<TaskValidationException>(() => SubmitAsync(Sim(id, id)));
        Assert.Contains("itself", cycle.Message, StringComparison.Ordinal);

        var malformed = await Assert.ThrowsAsync<TaskValidationException>(() => SubmitAsync(Sim("has spaces")));
        Assert.Contains("id", malformed.Errors.Keys);

        Assert.Null(await Grain(id).GetAsync());
        Assert.Equal(0L, await Cluster.ScalarAsync<long>("SELECT count(*) FROM tasks WHERE id IN (@a, @b)", ("@a", id), ("@b", "has spaces")));
    }

    [SkippableFact]
    public async Task A_whole_dag_is_written_all_or_nothing()
    {
        var (taken, fresh, child, ghost) = (Id("taken"), Id("fresh"), Id("child"), Id("ghost"));
        var catalog = Grains.GetCatalogGrain();
        await SubmitAsync(Sim(taken) with { Type = "first" });

        var conflict = await Assert.ThrowsAsync<TaskConflictException>(() =>
            catalog.SubmitBatchAsync([Sim(fresh), Sim(child, fresh, taken), Sim(taken) with { Type = "second" }]));
        Assert.Equal(taken, conflict.TaskId);

        var missing = await Assert.ThrowsAsync<TaskValidationException>(() => catalog.SubmitBatchAsync([Sim(fresh), Sim(child, fresh, ghost)]));
        Assert.Equal(("missing_dependency", ghost), (missing.Kind, Assert.Single(missing.Ids)));

        var duplicate = await Assert.ThrowsAsync<TaskValidationException>(() => catalog.SubmitBatchAsync([Sim(fresh), Sim(fresh)]));
        Assert.Contains("duplicate", duplicate.Message, StringComparison.Ordinal);

        Assert.Null(await Grain(fresh).GetAsync());
        Assert.Null(await Grain(child).GetAsync());
        Assert.Equal("first", (await GetAsync(taken)).Type);
        Assert.Equal(0L, await Cluster.ScalarAsync<long>("SELECT count(*) FROM tasks WHERE id IN (@a, @b)", ("@a", fresh), ("@b", child)));
    }

    [SkippableFact]
    public async Task A_whole_dag_may_depend_on_itself_in_any_order_and_on_existing_tasks()
    {
        var (existing, a, b, c, solo) = (Id("existing"), Id("a"), Id("b"), Id("c"), Id("solo"));
        await SubmitAsync(Gate(existing));

        var submitted = await Grains.GetCatalogGrain().SubmitBatchAsync([Sim(c, a, b), Sim(b, a, existing), Sim(a), Sim(solo) with { RunAt = Cluster.Clock.GetUtcNow().AddHours(1) }]);

        Assert.Equal(
            [(a, TaskStatus.Queued), (b, TaskStatus.Waiting), (c, TaskStatus.Waiting), (solo, TaskStatus.Scheduled)],
            submitted.Select(s => (s.Id, s.Status)).OrderBy(s => s.Id, StringComparer.Ordinal));
        await WaitForStatusAsync(a, TaskStatus.Completed);
        var waiting = await GetAsync(b);
        Assert.Equal(TaskStatus.Waiting, waiting.Status);
        Assert.Equal([existing], waiting.BlockedBy!.Dependencies!.Select(d => d.Id));

        Probe.Open(existing);
        await WaitForStatusAsync(c, TaskStatus.Completed);
        var ends = new Dictionary<string, DateTimeOffset>();
        foreach (var id in new[] { existing, a, b })
        {
            ends[id] = When(await AssertHistoryAsync(id), TaskStatus.Completed);
        }

        Assert.True(When(await AssertHistoryAsync(b), TaskStatus.Running) >= new[] { ends[a], ends[existing] }.Max());
        Assert.True(When(await AssertHistoryAsync(c), TaskStatus.Running) >= new[] { ends[a], ends[b] }.Max());
        Assert.Equal(TaskStatus.Cancelled, await Grain(solo).CancelAsync());
    }
}
