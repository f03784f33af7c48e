namespace OrleansScheduler.Grains.Tasks;

/// <summary>The lifecycle's decisions, free of storage: the one place that says which transition is
/// allowed. A TaskGrain changes its status only through <see cref="Move"/>, which refuses any other
/// and records the transition in the task's history.</summary>
public static class TaskStateMachine
{
    /// <summary>Moves <paramref name="task"/> to <paramref name="to"/> and records the transition,
    /// or throws when the lifecycle does not allow it (a bug, never a user's error).</summary>
    public static void Move(TaskState task, TaskStatus to, DateTimeOffset at, string reason, string? siloId = null, int? attempt = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (!CanTransition(task.Status, to))
        {
            throw new InvalidOperationException($"Task '{task.Id}': {task.Status.ToName()} -> {to.ToName()} is not a transition of the lifecycle.");
        }

        task.NewEvents.Add(new TaskEvent(at, task.Status, to, siloId, attempt, reason));
        task.Status = to;
    }

    /// <summary>A new task's first status and event (<see cref="Admit"/> decided it).</summary>
    public static void Enter(TaskState task, Admission admission, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(admission);
        task.NewEvents.Add(new TaskEvent(at, null, admission.Status, null, null, admission.Reason));
        task.Status = admission.Status;
    }

    /// <summary>Status of a new task.</summary>
    /// <param name="pendingDependencies">Dependencies not COMPLETED yet.</param>
    /// <param name="upstreamFailed">Some dependency already ended FAILED, CANCELLED or UPSTREAM_FAILED.</param>
    public static TaskStatus Initial(int pendingDependencies, bool upstreamFailed, DateTimeOffset? runAt, DateTimeOffset now) =>
        upstreamFailed ? TaskStatus.UpstreamFailed
        : pendingDependencies > 0 ? TaskStatus.Waiting
        : runAt > now ? TaskStatus.Scheduled
        : TaskStatus.Queued;

    /// <summary>How a submitted task enters the graph, given its dependencies' statuses: its distinct
    /// dependencies, how many are not COMPLETED yet, its status, the reason its first event gives,
    /// and, when a dependency already failed, the error that names the root of that failure.</summary>
    /// <param name="causeOf">The root of a failed dependency's failure (for one UPSTREAM_FAILED, the
    /// task that doomed it); by default the dependency itself.</param>
    public static Admission Admit(TaskSpec spec, Func<string, TaskStatus> statusOf, DateTimeOffset now, Func<string, (string Id, TaskStatus Status)>? causeOf = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(statusOf);
        var dependencies = spec.Dependencies.Count <= 1 ? spec.Dependencies : spec.Dependencies.Distinct(StringComparer.Ordinal).ToList();
        var pending = 0;
        string? error = null;
        (string Id, TaskStatus Status)? cause = null;
        foreach (var dependency in dependencies)
        {
            var status = statusOf(dependency);
            if (FailsDependents(status) && cause is null)
            {
                cause = causeOf?.Invoke(dependency) ?? (dependency, status);
                error = $"upstream task '{cause.Value.Id}' ended {cause.Value.Status.ToName()}";
            }

            if (status != TaskStatus.Completed)
            {
                pending++;
            }
        }

        var initial = Initial(pending, error is not null, spec.RunAt, now);
        var reason = initial switch
        {
            TaskStatus.UpstreamFailed => "submitted; " + error,
            TaskStatus.Waiting => $"submitted; waiting for {pending} of {dependencies.Count} dependencies",
            TaskStatus.Scheduled => "submitted; run_at is in the future",
            _ => "submitted",
        };
        return new Admission(dependencies, pending, initial, reason, error, cause?.Id, cause?.Status);
    }

    /// <summary>Status once the last dependency COMPLETED.</summary>
    public static TaskStatus Released(DateTimeOffset? runAt, DateTimeOffset now) =>
        runAt > now ? TaskStatus.Scheduled : TaskStatus.Queued;

    /// <summary>Status after an attempt ends.</summary>
    public static TaskStatus AfterAttempt(bool succeeded, int attempt, int maxAttempts) =>
        succeeded ? TaskStatus.Completed
        : attempt < maxAttempts ? TaskStatus.Queued
        : TaskStatus.Failed;

    /// <summary>Delay before retry <paramref name="attempt"/> + 1: base doubled per failed attempt,
    /// capped, then "equal jitter" (a uniform draw from half to all of it) so tasks that failed
    /// together do not retry in lockstep.</summary>
    /// <param name="jitter">A draw from [0, 1).</param>
    public static TimeSpan Backoff(int attempt, long baseMs, long maxMs, double jitter)
    {
        if (baseMs <= 0 || maxMs <= 0)
        {
            return TimeSpan.Zero;
        }

        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var full = Math.Min(maxMs, baseMs * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(Math.Round(full / 2 + (full / 2 * jitter)));
    }

    /// <summary>A retry waits its backoff SCHEDULED, or goes straight to QUEUED without one.</summary>
    public static TaskStatus Retrying(TimeSpan backoff) => backoff > TimeSpan.Zero ? TaskStatus.Scheduled : TaskStatus.Queued;

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
        // A retry re-arms a task with fresh attempts: QUEUED when ready, SCHEDULED while its run_at
        // is ahead, WAITING while a dependency has not COMPLETED (one cancelled while it waited).
        (TaskStatus.Failed, TaskStatus.Queued),
        (TaskStatus.Failed, TaskStatus.Scheduled),
        (TaskStatus.Cancelled, TaskStatus.Queued),
        (TaskStatus.Cancelled, TaskStatus.Scheduled),
        (TaskStatus.Cancelled, TaskStatus.Waiting),
        (TaskStatus.UpstreamFailed, TaskStatus.Waiting),
        (TaskStatus.UpstreamFailed, TaskStatus.Queued),
        (TaskStatus.UpstreamFailed, TaskStatus.Scheduled),
    ];

    public static bool CanTransition(TaskStatus from, TaskStatus to) => Allowed.Contains((from, to));
}
