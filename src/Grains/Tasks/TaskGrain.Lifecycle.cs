using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.Tasks;

/// <summary>What users do to a task (cancel, retry) and what time does (run_at and backoff).</summary>
internal sealed partial class TaskGrain
{
    /// <summary>Due times nearer than this get a timer in the grain; later ones are left to the
    /// sweeper, which wakes tasks due within this horizon every reminder period (shorter than it).</summary>
    internal static readonly TimeSpan TimerHorizon = TimeSpan.FromMinutes(2);

    private IGrainTimer? _dueTimer;

    public async Task<TaskStatus?> CancelAsync()
    {
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            return null;
        }

        if (State.Status.IsTerminal())
        {
            throw new TaskConflictException(State.Id,
                $"Task '{State.Id}' is {State.Status.ToName()}; only WAITING, SCHEDULED, QUEUED or RUNNING tasks can be cancelled.");
        }

        var running = State.Status == TaskStatus.Running;
        var grant = State.GrantId;
        Move(TaskStatus.Cancelled, "cancelled by user", State.WorkerId, running ? State.Attempts : null);
        (State.CompletedAt, State.Error, State.DueAt, State.DueKind, State.AttemptSilo) = (Now, "cancelled by user", null, null, null);
        await PersistAsync().ConfigureAwait(true);
        metrics.Cancelled(State.Type);
        DisarmDueTimer();
        if (running)
        {
            // The slot is free at once; the handler is stopped, and its report, if it still comes,
            // no longer matches the live attempt.
            if (State.RunsOnWorker)
            {
                // The worker's next heartbeat tells it to stop; its report no longer counts.
                DisarmAttemptTimeout();
                if (State.WorkerId is { Length: > 0 } workerId)
                {
                    _ = GrainFactory.GetGrain<IWorkerGrain>(workerId).ForgetAsync(State.Id, grant, StopReasons.Cancelled);
                }
            }
            else
            {
                runner.Cancel(State.Id, grant);
            }

            DelayDeactivation(TimeSpan.Zero);
            slots.Release(grant);
        }

        await NotifyFailedAsync(State.Id, TaskStatus.Cancelled).ConfigureAwait(true);
        return TaskStatus.Cancelled;
    }

    /// <summary>Re-arms a FAILED, CANCELLED or UPSTREAM_FAILED task with fresh attempts, and the
    /// UPSTREAM_FAILED tasks below it whose other dependencies have not failed go back to WAITING:
    /// one call re-runs a failed subgraph. A task whose own dependency failed is refused: retrying
    /// that dependency re-arms this one too.</summary>
    public async Task<TaskStatus?> RetryAsync()
    {
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            return null;
        }

        if (State.Status is not (TaskStatus.Failed or TaskStatus.Cancelled or TaskStatus.UpstreamFailed))
        {
            throw new TaskConflictException(State.Id,
                $"Task '{State.Id}' is {State.Status.ToName()}; only FAILED, CANCELLED or UPSTREAM_FAILED tasks can be retried.");
        }

        await RefreshDependenciesAsync().ConfigureAwait(true);
        var failed = State.Dependencies.Where(d => TaskStateMachine.FailsDependents(d.Status)).ToList();
        if (failed.Count > 0)
        {
            throw new TaskConflictException(State.Id,
                $"Task '{State.Id}' depends on tasks that did not complete: {string.Join(", ", failed.Select(f => $"{f.Id} ({f.Status.ToName()})"))}; " +
                "retry those instead, which re-arms this task too.");
        }

        await RearmAsync("retried by user with fresh attempts").ConfigureAwait(true);
        return State.Status;
    }

    /// <summary>Recovery's nudge: whatever the database says is due for this task is done now.</summary>
    public async Task WakeAsync()
    {
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            return;
        }

        JoinTaskTrace();

        switch (State.Status)
        {
            case TaskStatus.Scheduled:
                ArmDueTimer();
                break;
            case TaskStatus.Queued:
                WakeQueue();
                break;
            case TaskStatus.Running when !State.RunsOnWorker && !runner.IsRunning(State.Id, State.GrantId) && AttemptSiloIsGone():
                await LoseAttemptAsync().ConfigureAwait(true);
                break;
            case TaskStatus.Waiting:
                await RefreshDependenciesAsync().ConfigureAwait(true);
                await SettleWaitingAsync().ConfigureAwait(true);
                break;
            case TaskStatus.UpstreamFailed:
                await RefreshDependenciesAsync().ConfigureAwait(true);
                if (!State.Dependencies.Any(d => TaskStateMachine.FailsDependents(d.Status)))
                {
                    await RearmAsync("its dependencies were retried").ConfigureAwait(true);
                }

                break;
        }
    }

    /// <summary>A SCHEDULED task due within <see cref="TimerHorizon"/> gets a timer (it keeps the
    /// activation alive until then); any other state needs none.</summary>
    private void ArmDueTimer()
    {
        DisarmDueTimer();
        if (State.Status != TaskStatus.Scheduled || State.DueAt is not { } due)
        {
            return;
        }

        var delay = due - Now;
        if (delay > TimerHorizon)
        {
            return;
        }

        _dueTimer = this.RegisterGrainTimer(OnDueAsync, new GrainTimerCreationOptions
        {
            DueTime = delay < TimeSpan.Zero ? TimeSpan.Zero : delay,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private void DisarmDueTimer()
    {
        _dueTimer?.Dispose();
        _dueTimer = null;
    }

    private async Task OnDueAsync(CancellationToken cancellationToken)
    {
        DisarmDueTimer();
        JoinTaskTrace();
        if (State.Status != TaskStatus.Scheduled || State.DueAt is not { } due)
        {
            return;
        }

        if (due > Now)
        {
            ArmDueTimer(); // The timer fired early (a clock step); wait again.
            return;
        }

        Move(TaskStatus.Queued, State.DueKind == DueKinds.Backoff ? "retry backoff over" : "run_at reached");
        (State.QueuedAt, State.DueAt, State.DueKind) = (Now, null, null);
        await PersistAsync().ConfigureAwait(true);
        AfterStatusChange();
    }
}
