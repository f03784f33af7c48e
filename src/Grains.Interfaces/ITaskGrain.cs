namespace OrleansScheduler;

/// <summary>One task, keyed by its id: a persistent grain that makes every decision about its own
/// lifecycle (docs/state_machine.md), subscribes to the tasks it depends on and is told by them when
/// they end. Its turns are short: the handler runs in the silo's executor, so reads and cancel
/// answer while the task runs.</summary>
public interface ITaskGrain : IGrainWithStringKey
{
    /// <summary>Creates the task. Throws <see cref="TaskValidationException"/> (bad field, missing
    /// dependency) or <see cref="TaskConflictException"/> (the id exists).</summary>
    Task<SubmittedTask> SubmitAsync(TaskSpec spec);

    /// <summary>Null when the task does not exist.</summary>
    Task<TaskView?> GetAsync();

    /// <summary>Oldest first; null when the task does not exist.</summary>
    Task<IReadOnlyList<TaskEvent>?> GetEventsAsync();

    /// <summary>Cancels a task that has not finished; a RUNNING one's handler is cancelled too, and
    /// its dependents are UPSTREAM_FAILED when this returns. Null when the task does not exist;
    /// throws <see cref="TaskConflictException"/> when it is already terminal. Waits for the whole
    /// subgraph below, which may be large: a longer timeout than Orleans' default.</summary>
    [ResponseTimeout("00:05:00")]
    Task<TaskStatus?> CancelAsync();

    /// <summary>Re-arms a FAILED, CANCELLED or UPSTREAM_FAILED task with fresh attempts, and the
    /// UPSTREAM_FAILED tasks below it (back to WAITING when this returns). Null when the task does
    /// not exist; throws <see cref="TaskConflictException"/> in any other status.</summary>
    [ResponseTimeout("00:05:00")]
    Task<TaskStatus?> RetryAsync();

    /// <summary>Dependents subscribe to this task's end. Answers this task's status as written (a
    /// dependent does not wait for one already COMPLETED, and is UPSTREAM_FAILED by one already
    /// failed), or null when this task does not exist (yet).</summary>
    /// <remarks>Interleaves with this task's other turns: a dependent awaits it while this task may
    /// be awaiting that dependent (a failure told down the graph), and a dependent subscribes again
    /// once its own row is written, when it already is a subscriber; without interleaving the two
    /// would wait for each other until the call timed out.</remarks>
    [AlwaysInterleave]
    Task<UpstreamStatus?> SubscribeAsync(IReadOnlyList<string> downstreamIds);

    /// <summary>A dependency COMPLETED. Idempotent: a dependency already seen changes nothing, so a
    /// notification sent again after a crash is harmless.</summary>
    [OneWay]
    Task UpstreamCompletedAsync(string upstreamId);

    /// <summary>A dependency ended FAILED, CANCELLED or UPSTREAM_FAILED because of
    /// <paramref name="causeId"/> ending <paramref name="causeStatus"/>: this task and, before this
    /// returns, everything below it become UPSTREAM_FAILED, each naming the cause. Idempotent.</summary>
    [ResponseTimeout("00:05:00")]
    Task UpstreamFailedAsync(string upstreamId, string causeId, TaskStatus causeStatus);

    /// <summary>A dependency was retried: an UPSTREAM_FAILED task none of whose dependencies is still
    /// failed goes back to WAITING, and so on below it, before this returns. Idempotent.</summary>
    [ResponseTimeout("00:05:00")]
    Task UpstreamRetriedAsync(string upstreamId);

    /// <summary>The ConcurrencyGrain granted this task a slot. Sent again by the ConcurrencyGrain's
    /// recovery, so it is idempotent: a QUEUED task starts its next attempt; a task that already
    /// accepted this grant checks that its attempt is still alive (a fresh activation's is not:
    /// its silo died); any other gives the slot back.</summary>
    [OneWay]
    Task StartAsync(SlotGrant grant);

    /// <summary>Records how an attempt ended. Returns false, changing nothing, when the attempt is
    /// no longer the live one (cancelled, lost, or this activation is stale). A last failure waits
    /// for the subgraph below to be UPSTREAM_FAILED.</summary>
    [ResponseTimeout("00:05:00")]
    Task<bool> EndAttemptAsync(AttemptOutcome outcome);

    /// <summary>Gives an attempt back unfinished (its silo is stopping): the task is QUEUED again
    /// and the attempt does not count.</summary>
    Task<bool> HandBackAsync(AttemptLease lease, string reason);

    /// <summary>An external worker's poll was granted a slot for this task: a QUEUED task of the
    /// worker queue starts its next attempt on <paramref name="workerId"/> and answers it as the
    /// worker leases it; any other gives the slot back and answers null.</summary>
    Task<WorkerTask?> StartOnWorkerAsync(SlotGrant grant, string workerId);

    /// <summary>A worker reports how its attempt ended: recorded only while <paramref name="grantId"/>
    /// (its lease token) is the live attempt's and the attempt is that worker's.</summary>
    [ResponseTimeout("00:05:00")]
    Task<WorkerReportResult> EndWorkerAttemptAsync(string workerId, long grantId, WorkerOutcome outcome);

    /// <summary>The worker's lease on the live attempt was lost (the worker was declared dead, or
    /// the lease expired): the attempt counts as failed and the task is QUEUED again at once.</summary>
    [ResponseTimeout("00:05:00")]
    Task<bool> LoseWorkerAttemptAsync(string workerId, long grantId, string reason);

    /// <summary>The worker deregistered while running the attempt: QUEUED again, not counted.</summary>
    Task<bool> HandBackWorkerAttemptAsync(string workerId, long grantId);

    /// <summary>The lease token of the live attempt when it runs on <paramref name="workerId"/>.</summary>
    Task<long?> GetWorkerLeaseAsync(string workerId);

    /// <summary>Recovery's nudge: act on what the database says is due (a run_at or backoff that
    /// fell due, dependencies that ended while a notification was lost).</summary>
    [OneWay]
    Task WakeAsync();
}

[GenerateSerializer, Immutable]
public sealed record SubmittedTask(string Id, TaskStatus Status);

/// <summary>A dependency's answer to a subscription: its row number and its status.</summary>
[GenerateSerializer, Immutable]
public sealed record UpstreamStatus(long Seq, TaskStatus Status)
{
    /// <summary>When it is UPSTREAM_FAILED: the root of its failure (the task whose FAILED or
    /// CANCELLED end doomed it), which a new dependent names too.</summary>
    [Id(2)]
    public string? CauseId { get; init; }

    [Id(3)]
    public TaskStatus? CauseStatus { get; init; }
}

/// <summary>A slot the ConcurrencyGrain issued to a task.</summary>
/// <param name="GrantId">Unique and increasing across the cluster's life: a task accepts a grant
/// only once, and never one older than the last it saw.</param>
[GenerateSerializer, Immutable]
public sealed record SlotGrant(long GrantId, int Slot);
