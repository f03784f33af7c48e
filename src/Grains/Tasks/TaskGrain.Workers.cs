using Microsoft.Extensions.Logging;

namespace OrleansScheduler.Grains.Tasks;

/// <summary>Attempts on external workers (issue 11). A QUEUED task of the worker queue is granted a
/// slot only for a worker's poll; its WorkerGrain starts it here, and the attempt is RUNNING with the
/// worker's id as its worker and the grant as its lease token. The grant fences every report as it
/// does a silo's: a worker's report counts only while its grant is the task's live one, so a report
/// after the lease was lost (the worker declared dead, its lease expired, the task cancelled or timed
/// out) changes nothing.</summary>
internal sealed partial class TaskGrain
{
    private IGrainTimer? _timeoutTimer;

    public async Task<WorkerTask?> StartOnWorkerAsync(SlotGrant grant, string workerId)
    {
        ArgumentNullException.ThrowIfNull(grant);
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            slots.Release(grant.GrantId);
            return null;
        }

        JoinTaskTrace();
        if (grant.GrantId <= State.GrantId)
        {
            // Only a grant newer than the last one starts an attempt.
            if (grant.GrantId < State.GrantId || State.Status != TaskStatus.Running || State.WorkerId != workerId)
            {
                slots.Release(grant.GrantId);
                return null;
            }

            return WorkerTaskOf(State.GrantId);
        }

        State.GrantId = grant.GrantId;
        if (State.Status != TaskStatus.Queued || !State.RunsOnWorker)
        {
            // Cancelled meanwhile, or routed to the silos since: the grant is remembered and goes back.
            await PersistAsync().ConfigureAwait(true);
            slots.Release(grant.GrantId);
            return null;
        }

        var attempt = State.Attempts + 1;
        State.Attempts = attempt;
        (State.WorkerId, State.AttemptSilo, State.StartedAt) = (workerId, null, Now);
        Move(TaskStatus.Running, $"attempt {attempt} of {State.MaxAttempts} leased to worker {workerId}", workerId, attempt);
        await PersistAsync().ConfigureAwait(true);
        metrics.Started(State.Type, State.StartedAt!.Value - (State.QueuedAt ?? State.StartedAt.Value));

        // Kept until the attempt ends: its timeout lives here.
        DelayDeactivation(TimeSpan.MaxValue);
        ArmAttemptTimeout();
        slots.Started(grant.GrantId, workerId, attempt);
        return WorkerTaskOf(grant.GrantId);
    }

    public async Task<WorkerReportResult> EndWorkerAttemptAsync(string workerId, long grantId, WorkerOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            return new WorkerReportResult(WorkerReportStatus.UnknownTask, null, null);
        }

        if (!IsWorkersLiveAttempt(workerId, grantId))
        {
            return new WorkerReportResult(WorkerReportStatus.Stale, State.Status, StaleReason(workerId, grantId));
        }

        JoinTaskTrace();
        DisarmAttemptTimeout();
        await EndAttemptAsync(outcome.Succeeded, outcome.Result, outcome.Error).ConfigureAwait(true);
        return new WorkerReportResult(WorkerReportStatus.Accepted, State.Status, null);
    }

    public async Task<bool> LoseWorkerAttemptAsync(string workerId, long grantId, string reason)
    {
        if (!await ExistsAsync().ConfigureAwait(true) || !IsWorkersLiveAttempt(workerId, grantId))
        {
            return false;
        }

        JoinTaskTrace();
        DisarmAttemptTimeout();
        LogWorkerAttemptLost(logger, State.Id, State.Attempts, workerId, reason);
        await EndAttemptAsync(false, null, $"attempt lost: {reason}", backoff: false).ConfigureAwait(true);
        return true;
    }

    public async Task<bool> HandBackWorkerAttemptAsync(string workerId, long grantId)
    {
        if (!await ExistsAsync().ConfigureAwait(true) || !IsWorkersLiveAttempt(workerId, grantId))
        {
            return false;
        }

        JoinTaskTrace();
        DisarmAttemptTimeout();
        State.Attempts--;
        Move(TaskStatus.Queued, $"handed back unfinished by worker {workerId} (deregistered); the attempt does not count", workerId, State.Attempts + 1);
        (State.WorkerId, State.AttemptSilo, State.StartedAt, State.QueuedAt) = (null, null, null, Now);
        await PersistAsync().ConfigureAwait(true);
        DelayDeactivation(TimeSpan.Zero);
        slots.Release(grantId);
        AfterStatusChange();
        return true;
    }

    public async Task<long?> GetWorkerLeaseAsync(string workerId) =>
        await ExistsAsync().ConfigureAwait(true) && State.Status == TaskStatus.Running && State.RunsOnWorker && State.WorkerId == workerId
            ? State.GrantId
            : null;

    /// <summary>Recovery sent the grant of a RUNNING worker attempt again (a silo started, or one
    /// died): the worker's grain is asked to hold the lease again; a worker that is gone (not
    /// registered, or dead) has lost the attempt.</summary>
    private async Task ConfirmWorkerAttemptAsync()
    {
        var workerId = State.WorkerId ?? "";
        bool alive;
        try
        {
            alive = workerId.Length > 0 && await GrainFactory.GetGrain<IWorkerGrain>(workerId).AdoptAsync(State.Id, State.GrantId).ConfigureAwait(true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAdoptFailed(logger, ex, State.Id, workerId);
            return; // Asked again at the next recovery.
        }

        if (alive)
        {
            DelayDeactivation(TimeSpan.MaxValue);
            ArmAttemptTimeout();
            slots.Started(State.GrantId, workerId, State.Attempts);
        }
        else
        {
            await LoseWorkerAttemptAsync(workerId, State.GrantId, $"worker {workerId} that held its lease is gone (deregistered or declared dead)").ConfigureAwait(true);
        }
    }

    private bool IsWorkersLiveAttempt(string workerId, long grantId) =>
        task.RecordExists && State.Status == TaskStatus.Running && State.RunsOnWorker && State.GrantId == grantId && State.WorkerId == workerId;

    private string StaleReason(string workerId, long grantId) =>
        State.Status != TaskStatus.Running || State.GrantId != grantId || State.WorkerId != workerId
            ? $"lease {grantId} of worker {workerId} is not the live attempt of task {State.Id}, which is {State.Status.ToName()}" +
              (State.Status == TaskStatus.Running ? $" on {State.WorkerId} (lease {State.GrantId})" : "") +
              ": the lease expired, the worker was declared dead, or the task was cancelled or timed out"
            : "the lease is not live";

    private WorkerTask WorkerTaskOf(long grantId) =>
        new(State.Id, State.Type, State.Payload, State.Attempts, State.MaxAttempts, State.TimeoutMs, grantId);

    /// <summary>A worker's attempt that outlives the task's timeout fails here, as a silo's executor
    /// fails its own (it counts, and retries after the backoff); the worker is told to stop it.</summary>
    private void ArmAttemptTimeout()
    {
        DisarmAttemptTimeout();
        if (State.TimeoutMs is not { } timeoutMs || State.StartedAt is not { } started)
        {
            return;
        }

        var due = started + TimeSpan.FromMilliseconds(timeoutMs) - Now;
        var grant = State.GrantId;
        _timeoutTimer = this.RegisterGrainTimer(_ => OnAttemptTimeoutAsync(grant), new GrainTimerCreationOptions
        {
            DueTime = due < TimeSpan.Zero ? TimeSpan.Zero : due,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private void DisarmAttemptTimeout()
    {
        _timeoutTimer?.Dispose();
        _timeoutTimer = null;
    }

    private async Task OnAttemptTimeoutAsync(long grant)
    {
        DisarmAttemptTimeout();
        if (State.Status != TaskStatus.Running || !State.RunsOnWorker || State.GrantId != grant || State.WorkerId is not { } workerId)
        {
            return;
        }

        JoinTaskTrace();
        await EndAttemptAsync(false, null, $"timed out after {State.TimeoutMs} ms on worker {workerId}").ConfigureAwait(true);
        _ = GrainFactory.GetGrain<IWorkerGrain>(workerId).ForgetAsync(State.Id, grant, StopReasons.TimedOut);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId}: attempt {Attempt} on worker {WorkerId} was lost ({Reason}); it counts as failed")]
    private static partial void LogWorkerAttemptLost(ILogger logger, string taskId, int attempt, string workerId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId}: could not ask worker {WorkerId} whether it still holds the attempt; asked again at the next recovery")]
    private static partial void LogAdoptFailed(ILogger logger, Exception exception, string taskId, string workerId);
}
