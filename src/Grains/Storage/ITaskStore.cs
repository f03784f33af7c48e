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

    /// <summary>Reports a group of outcomes and claims up to <paramref name="max"/> ready tasks for
    /// <paramref name="siloId"/>. An engine that can do it in one turn should; this default does it
    /// in several, with the same outcome.</summary>
    async Task<HandOver> ReleaseAndClaimAsync(IReadOnlyList<AttemptOutcome> finished, string siloId, int max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(finished);
        var accepted = new bool[finished.Count];
        for (var i = 0; i < finished.Count; i++)
        {
            accepted[i] = await ReportAsync(finished[i], cancellationToken).ConfigureAwait(false);
        }

        var leases = max > 0 ? await ClaimAsync(siloId, max, cancellationToken).ConfigureAwait(false) : [];
        return new HandOver(accepted, leases);
    }

    Task<bool> HandBackAsync(AttemptLease lease, string reason, CancellationToken cancellationToken);

    /// <summary>Null when the task does not exist; throws <see cref="TaskConflictException"/> when it
    /// is already terminal.</summary>
    Task<TaskStatus?> CancelAsync(string id, CancellationToken cancellationToken);

    /// <summary>Null when the task does not exist; throws <see cref="TaskConflictException"/> unless
    /// it is FAILED, CANCELLED or UPSTREAM_FAILED.</summary>
    Task<TaskStatus?> RetryAsync(string id, CancellationToken cancellationToken);

    /// <summary>Delivers what is due now, as turns: reminders (run_at reached, retry backoff over,
    /// up to <paramref name="max"/>), and attempts whose lease expired (their silo died or hangs):
    /// each counts as a failed attempt, its slot is freed and the task re-queued, or FAILED when
    /// its attempts are used up. Silos silent for longer than the dead-after setting are marked
    /// DEAD. Answers when the next reminder or lease falls due, or null when none is pending.</summary>
    Task<DateTimeOffset?> FireRemindersAsync(int max, CancellationToken cancellationToken);

    Task<TaskView?> GetAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<TaskEvent>?> GetEventsAsync(string id, CancellationToken cancellationToken);

    Task<TaskPage> ListAsync(TaskQuery query, CancellationToken cancellationToken);

    Task<SchedulerStats> GetStatsAsync(CancellationToken cancellationToken);

    Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken);

    Task RegisterSiloAsync(SiloView silo, CancellationToken cancellationToken);

    /// <summary>Records the silo's heartbeat and renews the leases of the attempts it is running,
    /// judged by the database's clock. Answers which of them it still holds: one missing was
    /// reclaimed after its lease expired, and must be stopped. An attempt the silo holds in the
    /// database but no longer runs (its report was lost) is not renewed, so it expires and re-runs.</summary>
    Task<IReadOnlyList<HeldAttempt>> HeartbeatAsync(string siloId, IReadOnlyList<HeldAttempt> running, CancellationToken cancellationToken);

    Task MarkSiloStoppedAsync(string siloId, CancellationToken cancellationToken);

    Task<IReadOnlyList<SiloView>> GetSilosAsync(CancellationToken cancellationToken);

    /// <summary>Answers whether the database can be read now (readiness).</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken);
}
