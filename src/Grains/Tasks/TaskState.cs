namespace OrleansScheduler.Grains.Tasks;

/// <summary>A TaskGrain's persistent state: its row of the tasks table, its dependencies (edges)
/// with the last status it knows of each, and its subscribers (the edges below it). Written by
/// <see cref="Storage.TaskStateStorage"/>, one group commit for many grains.</summary>
public sealed class TaskState
{
    /// <summary>Submission order, assigned by the database at the first write; the cursor of listings.</summary>
    public long Seq { get; set; }

    public string Id { get; set; } = "";

    public string Type { get; set; } = "";

    public TaskStatus Status { get; set; }

    public int Priority { get; set; }

    public long DurationMs { get; set; }

    /// <summary>The payload as the user sent it (JSON text).</summary>
    public string? Payload { get; set; }

    public DateTimeOffset? RunAt { get; set; }

    public long? TimeoutMs { get; set; }

    public int Attempts { get; set; }

    public int MaxAttempts { get; set; }

    public long RetryBackoffMs { get; set; }

    public long RetryBackoffMaxMs { get; set; }

    /// <summary>The name of the silo running (or that last ran) the attempt.</summary>
    public string? WorkerId { get; set; }

    /// <summary>The Orleans address of the silo running the attempt.</summary>
    public string? AttemptSilo { get; set; }

    /// <summary>The last slot grant this task accepted or refused: grants are increasing, so an
    /// older one, however late it arrives, is refused.</summary>
    public long GrantId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? QueuedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary>When a SCHEDULED task becomes ready: its run_at, or the end of a retry's backoff.</summary>
    public DateTimeOffset? DueAt { get; set; }

    /// <summary><see cref="DueKinds.RunAt"/> or <see cref="DueKinds.Backoff"/>, for blocked_by.</summary>
    public string? DueKind { get; set; }

    /// <summary>The handler's result (JSON text).</summary>
    public string? Result { get; set; }

    public string? Error { get; set; }

    /// <summary>For an UPSTREAM_FAILED task: the root of its failure, the task whose FAILED or
    /// CANCELLED end doomed it (null otherwise), so every task below names the same root however
    /// it learned of the failure.</summary>
    public string? CauseId { get; set; }

    /// <summary>How <see cref="CauseId"/> ended.</summary>
    public TaskStatus? CauseStatus { get; set; }

    /// <summary>The W3C traceparent of the request that submitted the task (null without one): the
    /// parent of its attempts' spans and of the release of its dependents, and the trace id its log
    /// lines carry on every silo (issue 10). Written once, at submission.</summary>
    public string? TraceParent { get; set; }

    /// <summary>Who runs the task: null for the silos (a handler, or the simulator),
    /// <see cref="TaskQueues.Worker"/> for an external worker that lists its type. Decided each
    /// time the task becomes QUEUED (<see cref="Workers.TaskRouting"/>) and kept while the attempt
    /// runs: a RUNNING task with the worker queue runs on the worker <see cref="WorkerId"/>.</summary>
    public string? Queue { get; set; }

    public bool RunsOnWorker => Queue == TaskQueues.Worker;

    public List<Dependency> Dependencies { get; set; } = [];

    /// <summary>The tasks that depend on this one. Their edges are written with them; a
    /// subscription made before a dependent's first write lives here until then.</summary>
    public HashSet<string> Subscribers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Transitions made since the last write, appended to task_events by the next one.</summary>
    public List<TaskEvent> NewEvents { get; } = [];

    /// <summary>The status the database holds (null: no row yet), so a write moves the counters.</summary>
    public TaskStatus? StoredStatus { get; set; }

    public int PendingDependencies => Dependencies.Count(d => d.Status != TaskStatus.Completed);
}

/// <summary>An edge to a task this one depends on, with the status last known of it.</summary>
public sealed class Dependency(string id, long seq, TaskStatus status, string? causeId = null, TaskStatus? causeStatus = null)
{
    public string Id { get; } = id;

    /// <summary>Its row; set by a whole-DAG submission once the dependency's own row is inserted.</summary>
    public long Seq { get; set; } = seq;

    public TaskStatus Status { get; set; } = status;

    /// <summary>When it is UPSTREAM_FAILED: the root of its failure (<see cref="TaskState.CauseId"/>).</summary>
    public string? CauseId { get; set; } = causeId;

    public TaskStatus? CauseStatus { get; set; } = causeStatus;

    /// <summary>The task whose end dooms a dependent of this one: the root of this one's failure
    /// when it is UPSTREAM_FAILED and the root is known, else this one.</summary>
    public (string Id, TaskStatus Status) Cause =>
        Status == TaskStatus.UpstreamFailed && CauseId is { } id && CauseStatus is { } status ? (id, status) : (Id, Status);
}

public static class TaskQueues
{
    public const string Worker = "worker";
}

public static class DueKinds
{
    public const string RunAt = "run_at";
    public const string Backoff = "backoff";
}
