using Microsoft.Extensions.Logging;
using OrleansScheduler.Grains.Telemetry;

namespace OrleansScheduler.Grains.Tasks;

/// <summary>Attempts. The ConcurrencyGrain grants a slot; the task persists RUNNING, hands the attempt
/// to the silo's executor and tells the ConcurrencyGrain it started; the executor reports the end,
/// the task persists the outcome and gives the slot back. The grant id fences every step: a task
/// takes a grant once, and a report from an attempt that is no longer the live one is refused.</summary>
internal sealed partial class TaskGrain
{
    public async Task StartAsync(SlotGrant grant)
    {
        ArgumentNullException.ThrowIfNull(grant);
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            slots.Release(grant.GrantId);
            return;
        }

        JoinTaskTrace();

        if (grant.GrantId <= State.GrantId)
        {
            // Sent again by the ConcurrencyGrain's recovery, or a stale copy.
            if (grant.GrantId == State.GrantId && State.Status == TaskStatus.Running)
            {
                if (State.RunsOnWorker)
                {
                    await ConfirmWorkerAttemptAsync().ConfigureAwait(true);
                }
                else if (runner.IsRunning(State.Id, State.GrantId))
                {
                    slots.Started(grant.GrantId, silo.Name, State.Attempts);
                }
                else if (AttemptSiloIsGone())
                {
                    await LoseAttemptAsync().ConfigureAwait(true);
                }

                // Otherwise the attempt runs on its own silo, alive: this is not the activation to answer.
            }
            else
            {
                slots.Release(grant.GrantId);
            }

            return;
        }

        State.GrantId = grant.GrantId;
        if (State.Status != TaskStatus.Queued || !runner.Accepting || State.RunsOnWorker)
        {
            // A task of the worker queue that gets a silo's grant (one written for a worker's poll
            // that recovery sends out again) gives it back and waits for a worker.
            // Refused (cancelled meanwhile, or this silo is stopping): the grant is remembered, so a
            // copy of it that arrives after a retry cannot start an attempt without a slot.
            await PersistAsync().ConfigureAwait(true);
            slots.Release(grant.GrantId);
            if (State.Status == TaskStatus.Queued && State.RunsOnWorker)
            {
                slots.WakeWorkers();
            }
            else if (!runner.Accepting)
            {
                // The next grant activates the task on a silo that is not stopping.
                DeactivateOnIdle();
            }

            return;
        }

        await BeginAttemptAsync(grant).ConfigureAwait(true);
    }

    /// <summary>Starts the next attempt of this QUEUED task on <paramref name="grant"/>: RUNNING is
    /// written (with any transition made just before in the same write), then the executor runs it.</summary>
    private async Task BeginAttemptAsync(SlotGrant grant)
    {
        State.GrantId = grant.GrantId;
        var attempt = State.Attempts + 1;
        State.Attempts = attempt;
        (State.WorkerId, State.AttemptSilo, State.StartedAt) = (silo.Name, silo.SiloAddress.ToParsableString(), Now);
        Move(TaskStatus.Running, $"attempt {attempt} of {State.MaxAttempts} started", silo.Name, attempt);
        await PersistAsync().ConfigureAwait(true);
        metrics.Started(State.Type, State.StartedAt!.Value - (State.QueuedAt ?? State.StartedAt.Value));

        // An activation with a running attempt is kept until the attempt ends: a new one elsewhere
        // would take the attempt for lost.
        DelayDeactivation(TimeSpan.MaxValue);
        runner.Start(new AttemptLease(
            State.Id, attempt, State.MaxAttempts, grant.GrantId, silo.Name, State.Type, State.DurationMs,
            Storage.Json.Parse(State.Payload), State.TimeoutMs, State.StartedAt!.Value) { TraceParent = State.TraceParent });
        slots.Started(grant.GrantId, silo.Name, attempt);
    }

    public async Task<bool> EndAttemptAsync(AttemptOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (!IsLive(outcome.Lease))
        {
            return false;
        }

        JoinTaskTrace();

        await EndAttemptAsync(outcome.Succeeded, outcome.Result?.GetRawText(), outcome.Error).ConfigureAwait(true);
        return true;
    }

    public async Task<bool> HandBackAsync(AttemptLease lease, string reason)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (!IsLive(lease))
        {
            return false;
        }

        JoinTaskTrace();

        State.Attempts--;
        Move(TaskStatus.Queued, reason, State.WorkerId, lease.Attempt);
        (State.WorkerId, State.AttemptSilo, State.StartedAt, State.QueuedAt) = (null, null, null, Now);
        await PersistAsync().ConfigureAwait(true);
        DelayDeactivation(TimeSpan.Zero);
        slots.Release(lease.GrantId);
        WakeQueue();

        // This silo is stopping: the next grant activates the task on another.
        DeactivateOnIdle();
        return true;
    }

    private bool IsLive(AttemptLease lease) =>
        task.RecordExists && State.Status == TaskStatus.Running && State.GrantId == lease.GrantId;

    /// <summary>The attempt's silo is gone (crashed, or declared dead while frozen): the attempt counts
    /// as failed, so a task that keeps killing silos ends FAILED instead of looping. With attempts
    /// left it is QUEUED again at once, without the retry backoff: the silo failed, not the task,
    /// and the task keeps its place in the queue (highest priority, then oldest), so the slot its
    /// attempt held goes back to it rather than to a task queued behind it (issue 9: interrupted
    /// tasks re-run within 2 s of a restart, within 5 s of a silo's SIGKILL).</summary>
    private async Task LoseAttemptAsync()
    {
        JoinTaskTrace();
        LogAttemptLost(logger, State.Id, State.Attempts, State.WorkerId);
        await EndAttemptAsync(false, null,
            $"attempt lost: the silo that held its lease ({State.WorkerId}) is gone (crashed, or declared dead); recovered on {silo.Name}",
            backoff: false).ConfigureAwait(true);
    }

    /// <summary>Records how the live attempt ended: COMPLETED; SCHEDULED for its backoff (or QUEUED
    /// at once without one, or when <paramref name="backoff"/> is false) with attempts left; FAILED
    /// without. Then the slot goes back and the dependents are told.</summary>
    private async Task EndAttemptAsync(bool succeeded, string? result, string? error, bool backoff = true)
    {
        var (attempt, grant, siloName) = (State.Attempts, State.GrantId, State.WorkerId);
        if (succeeded)
        {
            Move(TaskStatus.Completed, "completed", siloName, attempt);
            (State.CompletedAt, State.Result, State.Error) = (Now, result, null);
        }
        else
        {
            error = string.IsNullOrEmpty(error) ? "failed" : error;
            var next = TaskStateMachine.AfterAttempt(succeeded: false, attempt, State.MaxAttempts);
            var delay = TimeSpan.Zero;
            if (next == TaskStatus.Queued && backoff)
            {
                delay = TaskStateMachine.Backoff(attempt, State.RetryBackoffMs, State.RetryBackoffMaxMs, Random.Shared.NextDouble());
                next = TaskStateMachine.Retrying(delay);
            }

            Move(next, next switch
            {
                TaskStatus.Queued => $"attempt {attempt} of {State.MaxAttempts} failed, retrying now: {error}",
                TaskStatus.Scheduled => $"attempt {attempt} of {State.MaxAttempts} failed, retrying after {delay.TotalMilliseconds:0} ms: {error}",
                _ => $"attempt {attempt} of {State.MaxAttempts} failed, no attempts left: {error}",
            }, siloName, attempt);
            (State.Result, State.Error) = (null, error);
            switch (next)
            {
                case TaskStatus.Queued:
                    State.QueuedAt = Now;
                    break;
                case TaskStatus.Scheduled:
                    (State.DueAt, State.DueKind) = (Now + delay, DueKinds.Backoff);
                    break;
                default:
                    State.CompletedAt = Now;
                    break;
            }
        }

        State.AttemptSilo = null;
        await PersistAsync().ConfigureAwait(true);
        metrics.AttemptEnded(State.Type, State.Status, Now - (State.StartedAt ?? Now));
        DelayDeactivation(TimeSpan.Zero);
        slots.Release(grant);
        switch (State.Status)
        {
            case TaskStatus.Completed:
                // The dependents' release joins the task's trace (Orleans carries the span's
                // context on the calls it makes; none without a listener).
                using (TaskTracing.Start("task.release_dependents", State.TraceParent, State.Id))
                {
                    NotifyCompleted();
                }

                DeactivateOnIdle();
                break;
            case TaskStatus.Failed:
                await NotifyFailedAsync(State.Id, TaskStatus.Failed).ConfigureAwait(true);
                DeactivateOnIdle();
                break;
            default:
                AfterStatusChange();
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId}: attempt {Attempt} on silo {Silo} was lost; it counts as failed")]
    private static partial void LogAttemptLost(ILogger logger, string taskId, int attempt, string? silo);
}
