using Orleans.Storage;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.Tasks;

internal sealed partial class TaskGrain
{
    public async Task<SubmittedTask> SubmitAsync(TaskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var id = this.GetPrimaryKeyString();
        if (spec.Id != id)
        {
            throw new ArgumentException($"Spec of '{spec.Id}' submitted to the grain of '{id}'.", nameof(spec));
        }

        if (await ExistsAsync(deactivateIfMissing: false).ConfigureAwait(true))
        {
            throw SubmissionErrors.Conflict([id]);
        }

        try
        {
            await CreateAsync(id, spec).ConfigureAwait(true);
        }
        catch (Exception ex) when (ex is TaskValidationException or TaskConflictException)
        {
            if (!task.RecordExists)
            {
                DeactivateOnIdle();
            }

            throw;
        }

        return new SubmittedTask(id, State.Status);
    }

    private async Task CreateAsync(string id, TaskSpec spec)
    {
        var plan = DagValidator.Plan([spec]);
        var dependencies = spec.Dependencies.Distinct(StringComparer.Ordinal).ToList();
        var answers = await System.Threading.Tasks.Task.WhenAll(dependencies.Select(d => TaskRef(d).SubscribeAsync([id]))).ConfigureAwait(true);
        var missing = dependencies.Where((_, i) => answers[i] is null).ToList();
        if (missing.Count > 0)
        {
            throw SubmissionErrors.MissingDependencies(missing, single: true);
        }

        var known = dependencies.Select((d, i) => (d, answers[i]!)).ToDictionary(x => x.d, x => x.Item2, StringComparer.Ordinal);
        var state = NewTask(plan.InOrder[0], d => known[d], Now, options.Value);
        task.State = state;
        try
        {
            await task.WriteStateAsync().ConfigureAwait(true);
        }
        catch (InconsistentStateException)
        {
            // A whole-DAG submission took the id since this grain looked: that task stands.
            await task.ReadStateAsync().ConfigureAwait(true);
            throw SubmissionErrors.Conflict([id]);
        }

        AfterStatusChange();
    }

    /// <summary>A new task's first state: its admission through the state machine (WAITING,
    /// SCHEDULED, QUEUED, or UPSTREAM_FAILED when a dependency already failed) and its first event.
    /// Also what a whole-DAG submission writes for each of its tasks.</summary>
    internal static TaskState NewTask(TaskSpec spec, Func<string, UpstreamStatus> dependency, DateTimeOffset now, SchedulerOptions options)
    {
        var admission = TaskStateMachine.Admit(spec, d => dependency(d).Status, now,
            d => dependency(d) is { CauseId: { } id, CauseStatus: { } status } ? (id, status) : (d, dependency(d).Status));
        var state = new TaskState
        {
            Id = spec.Id,
            Type = spec.Type,
            Priority = spec.Priority,
            DurationMs = spec.DurationMs,
            Payload = spec.Payload?.GetRawText(),
            RunAt = spec.RunAt,
            TimeoutMs = spec.TimeoutMs,
            MaxAttempts = spec.MaxAttempts,
            RetryBackoffMs = spec.RetryBackoffMs ?? (long)options.RetryBackoff.TotalMilliseconds,
            RetryBackoffMaxMs = spec.RetryBackoffMaxMs ?? (long)options.RetryBackoffMax.TotalMilliseconds,
            CreatedAt = now,
            Dependencies = admission.Dependencies.Select(d => new Dependency(d, dependency(d).Seq, dependency(d).Status, dependency(d).CauseId, dependency(d).CauseStatus)).ToList(),
        };
        TaskStateMachine.Enter(state, admission, now);
        switch (state.Status)
        {
            case TaskStatus.Queued:
                state.QueuedAt = now;
                break;
            case TaskStatus.Scheduled:
                (state.DueAt, state.DueKind) = (spec.RunAt, DueKinds.RunAt);
                break;
            case TaskStatus.UpstreamFailed:
                (state.CompletedAt, state.Error, state.CauseId, state.CauseStatus) = (now, admission.Error, admission.CauseId, admission.CauseStatus);
                break;
        }

        return state;
    }

    public async Task<UpstreamStatus?> SubscribeAsync(IReadOnlyList<string> downstreamIds)
    {
        ArgumentNullException.ThrowIfNull(downstreamIds);
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            return null;
        }

        // Kept even when this task has ended: a retry tells its subscribers too.
        State.Subscribers.UnionWith(downstreamIds);
        return new UpstreamStatus(State.Seq, State.Status) { CauseId = State.CauseId, CauseStatus = State.CauseStatus };
    }
}
