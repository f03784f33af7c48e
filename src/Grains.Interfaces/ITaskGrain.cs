namespace OrleansScheduler;

/// <summary>One task: a persistent grain whose state is its row, its edges and its history.</summary>
/// <remarks>Every method is one turn: it reads the state, applies the state machine and commits, or
/// changes nothing.</remarks>
public interface ITaskGrain
{
    string Id { get; }

    /// <summary>Creates the task. Throws <see cref="TaskValidationException"/> (bad field, missing
    /// dependency, cycle) or <see cref="TaskConflictException"/> (the id exists).</summary>
    Task<SubmittedTask> SubmitAsync(TaskSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Cancels a task that has not finished; a RUNNING one's handler is cancelled too and
    /// its dependents become UPSTREAM_FAILED. Null when the task does not exist; throws
    /// <see cref="TaskConflictException"/> when it is already terminal.</summary>
    Task<TaskStatus?> CancelAsync(CancellationToken cancellationToken = default);

    /// <summary>Re-arms a FAILED, CANCELLED or UPSTREAM_FAILED task with fresh attempts, and the
    /// UPSTREAM_FAILED tasks below it. Null when the task does not exist; throws
    /// <see cref="TaskConflictException"/> in any other status.</summary>
    Task<TaskStatus?> RetryAsync(CancellationToken cancellationToken = default);

    /// <summary>Null when the task does not exist.</summary>
    Task<TaskView?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Oldest first; null when the task does not exist.</summary>
    Task<IReadOnlyList<TaskEvent>?> GetEventsAsync(CancellationToken cancellationToken = default);

    /// <summary>Records how an attempt ended. Returns false, changing nothing, when the attempt is
    /// no longer the live one (its lease was reclaimed, or the task was cancelled).</summary>
    Task<bool> ReportAsync(AttemptOutcome outcome, CancellationToken cancellationToken = default);

    /// <summary>Gives an attempt back unfinished (its silo is stopping): the task is QUEUED again
    /// and the attempt does not count.</summary>
    Task<bool> HandBackAsync(AttemptLease lease, string reason, CancellationToken cancellationToken = default);
}

public sealed record SubmittedTask(string Id, TaskStatus Status);
