namespace OrleansScheduler;

/// <summary>The cluster's single source of execution slots.</summary>
public interface IConcurrencyGrain
{
    /// <summary>Claims up to <paramref name="max"/> ready tasks, each with a free slot, in one turn:
    /// higher priority first, then oldest. Each returned lease is a RUNNING attempt.</summary>
    Task<IReadOnlyList<AttemptLease>> ClaimAsync(string siloId, int max, CancellationToken cancellationToken = default);

    Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken = default);
}
