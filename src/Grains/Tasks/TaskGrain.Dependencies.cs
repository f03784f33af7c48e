using Microsoft.Extensions.Logging;

namespace OrleansScheduler.Grains.Tasks;

/// <summary>The DAG between grains. A task that ends tells its subscribers: a completion one-way (the
/// dependents release themselves; a lost notification is found again by recovery, since the
/// database says the dependency COMPLETED), a failure or a retry awaited down the whole subgraph, so
/// a cancel or a retry answers with its dependents already moved. Every notification is
/// idempotent: a task keeps its dependencies' statuses, not a counter.</summary>
internal sealed partial class TaskGrain
{
    public async Task UpstreamCompletedAsync(string upstreamId)
    {
        if (!await ExistsAsync().ConfigureAwait(true) || State.Status != TaskStatus.Waiting)
        {
            return;
        }

        var dependency = State.Dependencies.Find(d => d.Id == upstreamId);
        if (dependency is null)
        {
            return;
        }

        // Nothing is written while other dependencies are pending: what this one knows is in the
        // database already (the dependency's own row), and is read again on activation.
        dependency.Status = TaskStatus.Completed;
        LogUpstreamCompleted(logger, State.Id, upstreamId, State.PendingDependencies);
        await SettleWaitingAsync().ConfigureAwait(true);
    }

    /// <summary>A WAITING task whose dependencies all COMPLETED is released; one with a failed
    /// dependency is UPSTREAM_FAILED. Run on every notification, on activation (an activation reads
    /// its dependencies' statuses, which may have moved while no activation listened) and by recovery.</summary>
    private async Task SettleWaitingAsync()
    {
        if (State.Status != TaskStatus.Waiting)
        {
            return;
        }

        if (State.Dependencies.FirstOrDefault(d => TaskStateMachine.FailsDependents(d.Status)) is { } failed)
        {
            // The root of the failure, as a notification down the graph would have named it.
            var (causeId, causeStatus) = failed.Cause;
            await FailUpstreamAsync(causeId, causeStatus).ConfigureAwait(true);
        }
        else if (State.PendingDependencies == 0)
        {
            await ReleaseAsync().ConfigureAwait(true);
        }
    }

    public async Task UpstreamFailedAsync(string upstreamId, string causeId, TaskStatus causeStatus)
    {
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            return;
        }

        var dependency = State.Dependencies.Find(d => d.Id == upstreamId);
        if (dependency is null)
        {
            return;
        }

        dependency.Status = upstreamId == causeId ? causeStatus : TaskStatus.UpstreamFailed;
        (dependency.CauseId, dependency.CauseStatus) = upstreamId == causeId ? ((string?)null, (TaskStatus?)null) : (causeId, causeStatus);
        if (State.Status == TaskStatus.Waiting)
        {
            await FailUpstreamAsync(causeId, causeStatus).ConfigureAwait(true);
        }
    }

    public async Task UpstreamRetriedAsync(string upstreamId)
    {
        if (!await ExistsAsync().ConfigureAwait(true) || State.Status != TaskStatus.UpstreamFailed)
        {
            return;
        }

        await RefreshDependenciesAsync().ConfigureAwait(true);
        if (State.Dependencies.Any(d => TaskStateMachine.FailsDependents(d.Status)))
        {
            return; // Another dependency still failed: this task stays UPSTREAM_FAILED.
        }

        await RearmAsync($"upstream task '{upstreamId}' was retried").ConfigureAwait(true);
    }

    /// <summary>The last dependency COMPLETED: QUEUED, or SCHEDULED until its run_at.</summary>
    private async Task ReleaseAsync()
    {
        // Released: from here on it is this task's own story (the line above, in the upstream's).
        JoinTaskTrace();
        var status = TaskStateMachine.Released(State.RunAt, Now);
        Move(status, "all dependencies completed");
        if (status == TaskStatus.Queued)
        {
            State.QueuedAt = Now;

            // Ask for a slot before writing: a grant now starts the attempt in the same write as
            // the release (WAITING -> QUEUED -> RUNNING, one commit instead of two and no wait for a
            // scan of the ready index), which is most of a dependent's hand-over time.
            // A task for external workers waits for a worker's poll instead.
            Route();
            if (!State.RunsOnWorker && runner.Accepting && await slots.AskAsync(State.Id, State.Priority, State.Seq).ConfigureAwait(true) is { } grant)
            {
                await BeginAttemptAsync(grant).ConfigureAwait(true);
                return;
            }
        }
        else
        {
            (State.DueAt, State.DueKind) = (State.RunAt, DueKinds.RunAt);
        }

        await PersistAsync().ConfigureAwait(true);
        AfterStatusChange();
    }

    /// <summary>This WAITING task can never run: UPSTREAM_FAILED, and so is everything below it.</summary>
    private async Task FailUpstreamAsync(string causeId, TaskStatus causeStatus)
    {
        var error = $"upstream task '{causeId}' ended {causeStatus.ToName()}";
        Move(TaskStatus.UpstreamFailed, error);
        (State.CompletedAt, State.Error, State.CauseId, State.CauseStatus) = (Now, error, causeId, causeStatus);
        await PersistAsync().ConfigureAwait(true);
        await NotifyFailedAsync(causeId, causeStatus).ConfigureAwait(true);
        DeactivateOnIdle();
    }

    /// <summary>Fresh attempts, and the status the dependencies allow now (WAITING, SCHEDULED or
    /// QUEUED); then the UPSTREAM_FAILED tasks below are told.</summary>
    private async Task RearmAsync(string reason)
    {
        var status = TaskStateMachine.Initial(State.PendingDependencies, upstreamFailed: false, State.RunAt, Now);
        Move(status, reason);
        State.Attempts = 0;
        (State.WorkerId, State.AttemptSilo, State.StartedAt, State.CompletedAt, State.Result, State.Error) = (null, null, null, null, null, null);
        (State.CauseId, State.CauseStatus) = (null, null);
        State.QueuedAt = status == TaskStatus.Queued ? Now : null;
        (State.DueAt, State.DueKind) = status == TaskStatus.Scheduled ? (State.RunAt, DueKinds.RunAt) : (null, null);
        await PersistAsync().ConfigureAwait(true);
        AfterStatusChange();
        await NotifyRetriedAsync().ConfigureAwait(true);
    }

    /// <summary>The dependencies' statuses as the database has them now.</summary>
    private async Task RefreshDependenciesAsync()
    {
        var current = (await reads.DependenciesWithCausesAsync(State.Seq).ConfigureAwait(true)).ToDictionary(d => d.Id, StringComparer.Ordinal);
        foreach (var dependency in State.Dependencies)
        {
            if (current.TryGetValue(dependency.Id, out var now))
            {
                (dependency.Status, dependency.CauseId, dependency.CauseStatus) = (now.Status, now.CauseId, now.CauseStatus);
            }
        }
    }

    private void NotifyCompleted()
    {
        foreach (var subscriber in State.Subscribers)
        {
            _ = TaskRef(subscriber).UpstreamCompletedAsync(State.Id);
        }
    }

    private Task NotifyFailedAsync(string causeId, TaskStatus causeStatus) =>
        NotifyAllAsync(subscriber => TaskRef(subscriber).UpstreamFailedAsync(State.Id, causeId, causeStatus));

    private Task NotifyRetriedAsync() => NotifyAllAsync(subscriber => TaskRef(subscriber).UpstreamRetriedAsync(State.Id));

    /// <summary>Tells every subscriber and waits for all. One that cannot be reached is logged, not
    /// thrown: this task's own change is committed, and recovery finds the dependent later from
    /// what the database says.</summary>
    private async Task NotifyAllAsync(Func<string, Task> notify)
    {
        var subscribers = State.Subscribers.ToList();
        var calls = subscribers.Select(notify).ToList();
        try
        {
            await System.Threading.Tasks.Task.WhenAll(calls).ConfigureAwait(true);
        }
        catch (Exception)
        {
            for (var i = 0; i < calls.Count; i++)
            {
                if (calls[i].Exception is { } failure)
                {
                    LogNotifyFailed(logger, failure, State.Id, subscribers[i]);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} could not tell its dependent {Dependent}; recovery will")]
    private static partial void LogNotifyFailed(ILogger logger, Exception exception, string taskId, string dependent);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Task {TaskId}: its dependency {Upstream} completed; {Pending} still pending")]
    private static partial void LogUpstreamCompleted(ILogger logger, string taskId, string upstream, int pending);
}
