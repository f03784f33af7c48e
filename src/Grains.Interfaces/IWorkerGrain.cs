namespace OrleansScheduler;

/// <summary>One external worker (issue 11), keyed by its worker id: a process outside the cluster
/// that registers its capabilities, long-polls for tasks over HTTP, heartbeats and reports results.
/// Its registration lives in Orleans' ADO.NET grain storage; its leases (the tasks it runs) live in
/// memory and, for the record, in each task's row, so an activation after a restart learns them
/// again from the tasks (recovery) and from the worker's heartbeat. A worker silent for
/// Workers:DeadAfter is dead: its tasks' attempts are lost (they count) and the tasks re-queued.</summary>
/// <remarks>Reentrant: a long poll waits inside the grain while the same worker's heartbeats and
/// reports go on; every step that must not be overtaken is decided by the TaskGrain, the fence of
/// its own attempts.</remarks>
public interface IWorkerGrain : IGrainWithStringKey
{
    /// <summary>Registers the worker, or updates its registration.</summary>
    Task<WorkerView> RegisterAsync(WorkerRegistration registration);

    /// <summary>Null when the worker is not registered.</summary>
    Task<HeartbeatAnswer?> HeartbeatAsync(WorkerHeartbeat heartbeat);

    /// <summary>A long poll for up to <paramref name="maxTasks"/> tasks of the worker's capabilities;
    /// an empty list after <paramref name="wait"/>. Null when the worker is not registered.</summary>
    [ResponseTimeout("00:01:00")]
    Task<IReadOnlyList<WorkerTask>?> LeaseAsync(int maxTasks, TimeSpan wait);

    /// <summary>The worker reports how an attempt ended; the TaskGrain decides whether the lease is
    /// still live.</summary>
    [ResponseTimeout("00:05:00")]
    Task<WorkerReportResult> ReportAsync(string taskId, long grantId, WorkerOutcome outcome);

    /// <summary>Forgets the worker; its leased tasks are QUEUED again without counting the attempt.
    /// Null when it was not registered; else the ids handed back.</summary>
    Task<IReadOnlyList<string>?> DeregisterAsync();

    /// <summary>Null when the worker is not registered.</summary>
    Task<WorkerView?> GetAsync();

    /// <summary>The ConcurrencyGrain granted slots to the worker's waiting poll
    /// <paramref name="pollId"/>: the tasks start and the poll answers them, or, when that poll has
    /// already answered, the grants go back.</summary>
    [OneWay]
    Task OfferAsync(long pollId, IReadOnlyList<TaskSlotGrant> grants);

    /// <summary>A task re-learned after a restart (the ConcurrencyGrain's recovery sends every holder
    /// its grant; a task whose attempt is this worker's asks here): true when the worker is alive
    /// and now holds the lease again, false when the attempt is lost.</summary>
    Task<bool> AdoptAsync(string taskId, long grantId);

    /// <summary>The directory's retention: a worker this activation has not heard from since
    /// <paramref name="lastHeard"/> (the directory's last word of it) and that holds nothing is
    /// forgotten as if it had deregistered (true).</summary>
    Task<bool> ForgetIfSilentSinceAsync(DateTimeOffset lastHeard);

    /// <summary>A task ended the worker's attempt itself (cancelled, timed out): its lease is dropped
    /// and the worker's next heartbeat is told to stop it, with <paramref name="reason"/>.</summary>
    [OneWay]
    Task ForgetAsync(string taskId, long grantId, string reason);
}

/// <summary>Every external worker, for GET /api/workers, and the task types they claim, for routing:
/// a singleton (key 0) that the WorkerGrains keep up to date. Registrations are kept in Orleans'
/// ADO.NET grain storage, so the claims survive a restart; heartbeats live in memory.</summary>
public interface IWorkerDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>A registration (new or changed); answers the claims as they are now.</summary>
    Task<WorkerClaims> UpdateAsync(WorkerView worker);

    /// <summary>What a heartbeat (or the worker's death) changed.</summary>
    [OneWay]
    Task ReportAsync(WorkerView worker);

    /// <summary>A deregistration; answers the claims as they are now.</summary>
    Task<WorkerClaims> RemoveAsync(string workerId);

    Task<IReadOnlyList<WorkerView>> GetWorkersAsync();

    /// <summary>The task types that registered workers claim, by <see cref="WorkerClaims.Version"/>;
    /// null when <paramref name="knownVersion"/> is still current.</summary>
    Task<WorkerClaims?> GetClaimsAsync(long knownVersion);
}

[GenerateSerializer, Immutable]
public sealed record WorkerRegistration(string WorkerId, IReadOnlyList<string> Capabilities, int MaxConcurrentTasks, string? SystemInfo);

/// <param name="CurrentTasks">The tasks the worker says it runs; null renews every lease it holds.</param>
/// <param name="SystemInfo">A JSON object (cpu_usage, memory_usage, disk_usage and anything else).</param>
[GenerateSerializer, Immutable]
public sealed record WorkerHeartbeat(string? Status, IReadOnlyList<string>? CurrentTasks, string? SystemInfo);

[GenerateSerializer, Immutable]
public sealed record HeartbeatAnswer(string Status, IReadOnlyList<StopOrder> Stop);

/// <param name="Reason">"cancelled", "timed_out", "lease_expired" or "not_leased".</param>
[GenerateSerializer, Immutable]
public sealed record StopOrder(string TaskId, string Reason);

/// <summary>A task as a worker leases it. <paramref name="LeaseToken"/> is the slot grant: the fence
/// of the attempt.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerTask(string Id, string Type, string? Payload, int Attempt, int MaxAttempts, long? TimeoutMs, long LeaseToken);

/// <summary><paramref name="Result"/> is JSON text; <paramref name="Error"/> null means success.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerOutcome(string? Result, string? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>What became of a report: <see cref="WorkerReportStatus.Accepted"/> with the task's new
/// status, else why it changed nothing.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerReportResult(WorkerReportStatus Outcome, TaskStatus? Status, string? Reason);

public enum WorkerReportStatus
{
    Accepted,
    UnknownWorker,
    UnknownTask,
    Stale,
}

[GenerateSerializer, Immutable]
public sealed record TaskSlotGrant(string TaskId, SlotGrant Grant);

[GenerateSerializer, Immutable]
public sealed record WorkerClaims(long Version, IReadOnlyList<string> Types);

/// <summary>A worker as GET /api/workers lists it: an external worker (kind "external") or a silo
/// (kind "silo"). Status: ACTIVE; UNHEALTHY once a heartbeat interval passed without one; DEAD once
/// Workers:DeadAfter passed (a silo: as Orleans' membership says, ACTIVE, STOPPING or DEAD).</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerView(
    string Id,
    string Kind,
    string? Host,
    IReadOnlyList<string> Capabilities,
    int Capacity,
    int RunningTasks,
    IReadOnlyList<string> CurrentTasks,
    DateTimeOffset StartedAt,
    DateTimeOffset HeartbeatAt,
    string Status,
    string? ReportedStatus,
    string? SystemInfo)
{
    public const string External = "external";
    public const string Silo = "silo";
}

/// <summary>Why a worker's heartbeat tells it to stop a task.</summary>
public static class StopReasons
{
    public const string Cancelled = "cancelled";
    public const string TimedOut = "timed_out";
    public const string LeaseExpired = "lease_expired";
    public const string NotLeased = "not_leased";
}
