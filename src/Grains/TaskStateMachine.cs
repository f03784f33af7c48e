namespace OrleansScheduler.Grains;

/// <summary>The lifecycle's decisions, free of storage, so every engine applies the same rules.</summary>
public static class TaskStateMachine
{
    /// <summary>Status of a new task.</summary>
    /// <param name="pendingDependencies">Dependencies not COMPLETED yet.</param>
    /// <param name="upstreamFailed">Some dependency already ended FAILED, CANCELLED or UPSTREAM_FAILED.</param>
    public static TaskStatus Initial(int pendingDependencies, bool upstreamFailed, DateTimeOffset? runAt, DateTimeOffset now) =>
        upstreamFailed ? TaskStatus.UpstreamFailed
        : pendingDependencies > 0 ? TaskStatus.Waiting
        : runAt > now ? TaskStatus.Scheduled
        : TaskStatus.Queued;

    /// <summary>Status once the last dependency COMPLETED.</summary>
    public static TaskStatus Released(DateTimeOffset? runAt, DateTimeOffset now) =>
        runAt > now ? TaskStatus.Scheduled : TaskStatus.Queued;

    /// <summary>Status after an attempt ends.</summary>
    public static TaskStatus AfterAttempt(bool succeeded, int attempt, int maxAttempts) =>
        succeeded ? TaskStatus.Completed
        : attempt < maxAttempts ? TaskStatus.Queued
        : TaskStatus.Failed;

    /// <summary>Dependents of a task that ended in this status can never run.</summary>
    public static bool FailsDependents(TaskStatus status) =>
        status is TaskStatus.Failed or TaskStatus.Cancelled or TaskStatus.UpstreamFailed;

    private static readonly HashSet<(TaskStatus, TaskStatus)> Allowed =
    [
        (TaskStatus.Waiting, TaskStatus.Queued),
        (TaskStatus.Waiting, TaskStatus.Scheduled),
        (TaskStatus.Waiting, TaskStatus.UpstreamFailed),
        (TaskStatus.Waiting, TaskStatus.Cancelled),
        (TaskStatus.Scheduled, TaskStatus.Queued),
        (TaskStatus.Scheduled, TaskStatus.Cancelled),
        (TaskStatus.Queued, TaskStatus.Running),
        (TaskStatus.Queued, TaskStatus.Cancelled),
        (TaskStatus.Running, TaskStatus.Completed),
        (TaskStatus.Running, TaskStatus.Failed),
        (TaskStatus.Running, TaskStatus.Queued),
        (TaskStatus.Running, TaskStatus.Scheduled),
        (TaskStatus.Running, TaskStatus.Cancelled),
        (TaskStatus.Failed, TaskStatus.Queued),
        (TaskStatus.Cancelled, TaskStatus.Queued),
        (TaskStatus.UpstreamFailed, TaskStatus.Waiting),
        (TaskStatus.UpstreamFailed, TaskStatus.Queued),
    ];

    public static bool CanTransition(TaskStatus from, TaskStatus to) => Allowed.Contains((from, to));
}
