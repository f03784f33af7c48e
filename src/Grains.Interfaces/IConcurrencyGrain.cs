namespace OrleansScheduler;

/// <summary>The cluster's single source of execution slots.</summary>
public interface IConcurrencyGrain
{
    /// <summary>Claims up to <paramref name="max"/> ready tasks, each with a free slot, in one turn:
    /// higher priority first, then oldest. Each returned lease is a RUNNING attempt.</summary>
    Task<IReadOnlyList<AttemptLease>> ClaimAsync(string siloId, int max, CancellationToken cancellationToken = default);

    /// <summary>Ends a group of attempts and hands their slots straight to the next ready tasks
    /// (up to <paramref name="max"/>, for the same silo) in one turn: completions are committed
    /// in groups, and a dependent a completion released can start without another round trip.
    /// Each outcome is fenced exactly as <see cref="ITaskGrain.ReportAsync"/> fences it.</summary>
    Task<HandOver> ReleaseAndClaimAsync(IReadOnlyList<AttemptOutcome> finished, string siloId, int max, CancellationToken cancellationToken = default);

    Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken = default);
}
