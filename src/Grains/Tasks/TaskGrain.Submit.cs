using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.Tasks;

internal sealed partial class TaskGrain
{
    /// <summary>This task's first write is under way (a subscription interleaved meanwhile must
    /// neither read nor see a state that is not written yet).</summary>
    private bool _creating;

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
            _creating = true;
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
        finally
        {
            _creating = false;
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
        if (state.Status == TaskStatus.Queued)
        {
            Route();
        }

        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogTransitions();
        }

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

        _creating = false;
        metrics.Submitted(state.Type);

        AfterStatusChange();
        if (state.Status == TaskStatus.Waiting)
        {
            await SubscribeAgainAsync(known).ConfigureAwait(true);
        }

        // Until a grant, a notification or its timer calls it, a new task has nothing to do: it goes
        // now rather than after the collection age, so a burst of submissions waiting for slots
        // does not hold thousands of activations (the submit bench: 30,000 of them, 5.7 KB each,
        // the server at 430 MB and its p99 in GC pauses). A grant or a notification re-activates it
        // from its row. A task with a timer due soon stays for it.
        if (State.Status != TaskStatus.Scheduled || _dueTimer is null)
        {
            DeactivateOnIdle();
        }
    }

    /// <summary>Subscribes again, now that this task's row (and so its edges) is committed. The first
    /// subscription lives in the dependency's activation only until then: one that went and came
    /// back in between reads its subscribers from the database without this task, and would not
    /// tell it. The second cannot be lost that way; a dependency that ended meanwhile answers so.</summary>
    private async Task SubscribeAgainAsync(Dictionary<string, UpstreamStatus> first)
    {
        var pending = first.Where(d => !d.Value.Status.IsTerminal()).Select(d => d.Key).ToList();
        var answers = await System.Threading.Tasks.Task.WhenAll(pending.Select(d => TaskRef(d).SubscribeAsync([State.Id]))).ConfigureAwait(true);
        for (var i = 0; i < pending.Count; i++)
        {
            if (answers[i] is { } answer && State.Dependencies.Find(d => d.Id == pending[i]) is { } dependency)
            {
                (dependency.Status, dependency.CauseId, dependency.CauseStatus) = (answer.Status, answer.CauseId, answer.CauseStatus);
            }
        }

        await SettleWaitingAsync().ConfigureAwait(true);
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
            TraceParent = spec.TraceParent,
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

    /// <summary>Runs interleaved with this task's other turns (ITaskGrain says why), so it answers only
    /// what is written: the status the database holds, even while a change of it is being written
    /// (a dependent that subscribes then is in the subscribers the change will tell). A task whose
    /// first write is under way does not exist yet for a dependent.</summary>
    public async Task<UpstreamStatus?> SubscribeAsync(IReadOnlyList<string> downstreamIds)
    {
        ArgumentNullException.ThrowIfNull(downstreamIds);
        if (_creating || !await ExistsAsync().ConfigureAwait(true))
        {
            return null;
        }

        // Kept even when this task has ended: a retry tells its subscribers too.
        State.Subscribers.UnionWith(downstreamIds);
        var status = State.StoredStatus ?? State.Status;
        return status == TaskStatus.UpstreamFailed
            ? new UpstreamStatus(State.Seq, status) { CauseId = State.CauseId, CauseStatus = State.CauseStatus }
            : new UpstreamStatus(State.Seq, status);
    }
}
