namespace OrleansScheduler.Grains.Storage;

/// <summary>Where grain state lives. Each write method is one turn: it commits whole or not at all.
/// Engines (SQLite, later PostgreSQL) implement the same behaviour; the grains know only this.</summary>
public interface ITaskStore : IAsyncDisposable
{
    /// <summary>Opens the database, applies migrations, and recovers what a dead process left.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Inserts a validated DAG; throws <see cref="TaskConflictException"/> when an id exists and
    /// <see cref="TaskValidationException"/> when a dependency is missing.</summary>
    Task<IReadOnlyList<SubmittedTask>> SubmitAsync(Dag.DagPlan plan, CancellationToken cancellationToken);

    Task<IReadOnlyList<AttemptLease>> ClaimAsync(string siloId, int max, CancellationToken cancellationToken);

    Task<bool> ReportAsync(AttemptOutcome outcome, CancellationToken cancellationToken);

    Task<bool> HandBackAsync(AttemptLease lease, string reason, CancellationToken cancellationToken);

    /// <summary>Null when the task does not exist; throws <see cref="TaskConflictException"/> when it
    /// is already terminal.</summary>
    Task<TaskStatus?> CancelAsync(string id, CancellationToken cancellationToken);

    /// <summary>Null when the task does not exist; throws <see cref="TaskConflictException"/> unless
    /// it is FAILED, CANCELLED or UPSTREAM_FAILED.</summary>
    Task<TaskStatus?> RetryAsync(string id, CancellationToken cancellationToken);

    /// <summary>Delivers the reminders due now (up to <paramref name="max"/>) and answers when the
    /// next one falls due, or null when none is left.</summary>
    Task<DateTimeOffset?> FireRemindersAsync(int max, CancellationToken cancellationToken);

    Task<TaskView?> GetAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<TaskEvent>?> GetEventsAsync(string id, CancellationToken cancellationToken);

    Task<TaskPage> ListAsync(TaskQuery query, CancellationToken cancellationToken);

    Task<SchedulerStats> GetStatsAsync(CancellationToken cancellationToken);

    Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken);

    Task RegisterSiloAsync(SiloView silo, CancellationToken cancellationToken);

    Task HeartbeatAsync(string siloId, CancellationToken cancellationToken);

    Task MarkSiloStoppedAsync(string siloId, CancellationToken cancellationToken);

    Task<IReadOnlyList<SiloView>> GetSilosAsync(CancellationToken cancellationToken);

    /// <summary>Answers whether the database can be read now (readiness).</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken);
}
