using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Placement;
using Orleans.Runtime;
using OrleansScheduler.Grains.Concurrency;
using OrleansScheduler.Grains.Execution;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Telemetry;
using OrleansScheduler.Grains.Workers;

namespace OrleansScheduler.Grains.Tasks;

/// <summary>One task (docs/architecture.md). Its state is its row of the tasks table, written through
/// <see cref="TaskStateStorage"/>; every change of status goes through <see cref="TaskStateMachine"/>.
/// Its turns never wait for a handler: an attempt runs in the silo's <see cref="IAttemptRunner"/>,
/// which reports back with <see cref="EndAttemptAsync"/>. Split by concern: submission and
/// subscriptions (.Submit), notifications between tasks (.Dependencies), attempts (.Attempts),
/// cancel, retry and due times (.Lifecycle).</summary>
/// <remarks>Random placement: an attempt runs on the silo where its task's grain is active, so this is
/// what spreads work across a cluster. Orleans' default (resource-optimized, preferring the caller's
/// silo) put nearly every task on the silo of the ConcurrencyGrain, which sends the grants.</remarks>
[RandomPlacement]
internal sealed partial class TaskGrain(
    [PersistentState("task", StorageNames.Tasks)] IPersistentState<TaskState> task,
    SlotRequests slots,
    IAttemptRunner runner,
    TaskRouting routing,
    TaskReadModel reads,
    ILocalSiloDetails silo,
    IClusterMembershipService membership,
    TimeProvider timeProvider,
    SchedulerMetrics metrics,
    IOptions<SchedulerOptions> options,
    ILogger<TaskGrain> logger) : Grain, ITaskGrain
{
    /// <summary>Set on activation: the state was read a moment ago, so the first call need not read
    /// it again to learn whether the task exists.</summary>
    private bool _freshlyRead;

    private TaskState State => task.State;

    private DateTimeOffset Now => timeProvider.GetUtcNow();

    /// <summary>A database out of reach fails the activation with StoreUnavailableException, which the
    /// caller can be told (StoreFailures).</summary>
    public override Task OnActivateAsync(CancellationToken cancellationToken) =>
        StoreFailures.GuardAsync(reads.Database, ActivateAsync);

    private async Task ActivateAsync()
    {
        _freshlyRead = true;
        if (!task.RecordExists)
        {
            return;
        }

        if (State.Status == TaskStatus.Running)
        {
            // Activated with an attempt under way: an external worker runs it (its grain and
            // recovery tell whether it still does), this silo's executor runs it (the activation
            // was collected mid-attempt), or the attempt's silo is gone, or it lives and runs it on.
            if (State.RunsOnWorker)
            {
                DelayDeactivation(TimeSpan.MaxValue);
                ArmAttemptTimeout();
            }
            else if (runner.IsRunning(State.Id, State.GrantId))
            {
                DelayDeactivation(TimeSpan.MaxValue);
            }
            else if (AttemptSiloIsGone())
            {
                await LoseAttemptAsync().ConfigureAwait(true);
            }
            else
            {
                LogAttemptElsewhere(logger, State.Id, silo.Name, State.WorkerId);
            }
        }
        else if (State.Status == TaskStatus.Waiting)
        {
            await SettleWaitingAsync().ConfigureAwait(true);
        }
        else
        {
            ArmDueTimer();
        }
    }

    public async Task<TaskView?> GetAsync()
    {
        if (!await ExistsAsync().ConfigureAwait(true))
        {
            return null;
        }

        var state = State;
        var blockedBy = state.Status switch
        {
            TaskStatus.Waiting => BlockedByReasons.Dependencies(await reads.DependenciesAsync(state.Seq).ConfigureAwait(true)),
            TaskStatus.Scheduled => BlockedByReasons.Due(state.DueAt, state.DueKind),
            TaskStatus.Queued when state.RunsOnWorker => await WorkerBlockedByAsync().ConfigureAwait(true),
            TaskStatus.Queued => BlockedByReasons.Slots(await GrainFactory.GetGrain<IConcurrencyGrain>(0).GetSlotsAsync().ConfigureAwait(true)),
            _ => null,
        };
        return new TaskView(
            state.Id,
            state.Type,
            state.Status,
            state.DurationMs,
            state.Dependencies.Select(d => d.Id).ToList(),
            Json.Parse(state.Payload),
            state.Priority,
            state.RunAt,
            state.TimeoutMs,
            state.Attempts,
            state.MaxAttempts,
            state.WorkerId,
            state.CreatedAt,
            state.StartedAt,
            state.CompletedAt,
            Json.Parse(state.Result),
            state.Error,
            blockedBy);
    }

    public async Task<IReadOnlyList<TaskEvent>?> GetEventsAsync() =>
        await ExistsAsync().ConfigureAwait(true) ? await reads.EventsAsync(State.Seq).ConfigureAwait(true) : null;

    /// <summary>Whether the task exists. A whole-DAG submission writes new tasks' rows without
    /// activating them, so an activation that found no row reads again before it says no; one that
    /// has nothing to hold goes once idle.</summary>
    private async Task<bool> ExistsAsync(bool deactivateIfMissing = true)
    {
        if (!task.RecordExists && !_freshlyRead)
        {
            await task.ReadStateAsync().ConfigureAwait(true);
        }

        _freshlyRead = false;
        if (!task.RecordExists && deactivateIfMissing)
        {
            DeactivateOnIdle();
        }

        return task.RecordExists;
    }

    private void Move(TaskStatus to, string reason, string? siloId = null, int? attempt = null) =>
        TaskStateMachine.Move(State, to, Now, reason, siloId, attempt);

    /// <summary>Writes the state. If the write fails the state in memory is ahead of the database, so
    /// this activation goes and the next one reads what was committed; a stale ETag
    /// (<see cref="Orleans.Storage.InconsistentStateException"/>) means another activation owns the
    /// task now, and Orleans deactivates this one anyway.</summary>
    private async Task PersistAsync()
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogTransitions();
        }

        if (State.Status == TaskStatus.Queued && State.StoredStatus != TaskStatus.Queued)
        {
            Route();
        }

        try
        {
            await task.WriteStateAsync().ConfigureAwait(true);
        }
        catch (Exception ex)
        {
            LogWriteFailed(logger, ex, State.Id);
            DeactivateOnIdle();
            throw;
        }
    }

    /// <summary>What a write that changed the status owes the rest of the cluster: a ready task asks
    /// for a slot, a scheduled one sets its timer.</summary>
    private void AfterStatusChange()
    {
        if (State.Status == TaskStatus.Queued)
        {
            WakeQueue();
        }

        ArmDueTimer();
    }

    /// <summary>Decides who runs this task now that it is ready: the silos, or an external worker
    /// (<see cref="TaskRouting"/>).</summary>
    private void Route() => State.Queue = routing.QueueFor(State.Type);

    /// <summary>This QUEUED task is ready for a slot: the silos' scan, or the workers' polls.</summary>
    private void WakeQueue()
    {
        if (State.RunsOnWorker)
        {
            slots.WakeWorkers();
        }
        else
        {
            slots.Wake();
        }
    }

    /// <summary>blocked_by of a QUEUED task that waits for an external worker.</summary>
    private async Task<BlockedBy> WorkerBlockedByAsync()
    {
        var workers = (await GrainFactory.GetGrain<IWorkerDirectoryGrain>(0).GetWorkersAsync().ConfigureAwait(true))
            .Where(w => w.Capabilities.Contains(State.Type, StringComparer.Ordinal))
            .ToList();
        if (workers.Count == 0)
        {
            return new BlockedBy("worker", $"no worker with capability {State.Type}");
        }

        var slotsView = await GrainFactory.GetGrain<IConcurrencyGrain>(0).GetSlotsAsync().ConfigureAwait(true);
        var listed = string.Join(", ", workers.Take(10).Select(w => $"{w.Id} ({w.Status}, {w.RunningTasks} of {w.Capacity} running)"));
        return slotsView.InUse >= slotsView.Limit
            ? BlockedByReasons.Slots(slotsView)
            : new BlockedBy("worker", $"waiting for a worker with capability {State.Type} to lease it: {listed}");
    }

    /// <summary>A task's story, one line per transition, at Debug (LOG_LEVEL=debug): with the trace id
    /// each line carries, <c>grep</c> over every silo's log tells one request's tasks end to end.</summary>
    private void LogTransitions()
    {
        foreach (var change in State.NewEvents)
        {
            LogTransition(logger, State.Id, change.Attempt ?? State.Attempts, State.Type, change.From?.ToName() ?? "new", change.To.ToName(), change.Reason);
        }
    }

    /// <summary>This turn acts on the task's own story, whoever called (the ConcurrencyGrain's grant,
    /// the executor's report, a timer, the sweeper): its log lines, and the calls it makes, carry
    /// the trace of the request that submitted the task. A turn that is another task's doing (an
    /// upstream's completion releasing this one) keeps that task's trace instead.</summary>
    private void JoinTaskTrace()
    {
        if (State.TraceParent is { } traceParent)
        {
            RequestContext.Set(TaskTracing.RequestContextKey, traceParent);
        }
    }

    private ITaskGrain TaskRef(string id) => GrainFactory.GetGrain<ITaskGrain>(id);

    /// <summary>Whether the live attempt, which this silo's executor does not run, is lost: its silo
    /// is this one, or no longer a live member of the cluster. An activation on another silo while
    /// the attempt's silo lives is a second activation (Orleans' default grain directory allows one
    /// while silos join or leave) or a moved one: the attempt runs on there, its report is the one
    /// to record, and if that silo dies, membership declares it dead and recovery comes back here.
    /// Taking such an attempt for lost recorded tasks that ran to the end as FAILED (the bench's
    /// 3-silo drain: 198 of 20,000).</summary>
    private bool AttemptSiloIsGone()
    {
        if (State.AttemptSilo is not { } address || address == silo.SiloAddress.ToParsableString())
        {
            return true;
        }

        SiloAddress attemptSilo;
        try
        {
            attemptSilo = SiloAddress.FromParsableString(address);
        }
        catch (FormatException)
        {
            return true;
        }

        return membership.CurrentSnapshot.GetSiloStatus(attemptSilo)
            is not (SiloStatus.Created or SiloStatus.Joining or SiloStatus.Active or SiloStatus.ShuttingDown or SiloStatus.Stopping);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId}: activated on {Silo} while its attempt runs on {AttemptSilo}, a live member; left to that silo's report")]
    private static partial void LogAttemptElsewhere(ILogger logger, string taskId, string silo, string? attemptSilo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId}: its state could not be written; the activation is dropped and the next one reads the database")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string taskId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Task {TaskId} ({Type}), attempt {Attempt}: {From} -> {To} {Reason}")]
    private static partial void LogTransition(ILogger logger, string taskId, int attempt, string type, string from, string to, string? reason);
}
