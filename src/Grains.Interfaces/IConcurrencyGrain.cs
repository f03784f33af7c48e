namespace OrleansScheduler;

/// <summary>The cluster's single issuer of execution slots (a singleton, key 0). It grants free slots
/// to the highest-priority, oldest ready tasks, and persists its holders before a granted slot is
/// used, so the limit holds across its own re-activation and any silo's death.</summary>
public interface IConcurrencyGrain : IGrainWithIntegerKey
{
    /// <summary>Many tasks' slot traffic in one call (each silo batches its own): slots given
    /// back, grants taken up, and whether a task became ready. Grants what it can before it answers.</summary>
    Task UpdateAsync(SlotUpdate update);

    Task<SlotsView> GetSlotsAsync();

    /// <summary>Sends every holder its grant again, so a holder whose silo died is re-activated and
    /// records its lost attempt, and grants what is free. Idempotent; run at a silo's start, on a
    /// silo's death and by the grain's reminder.</summary>
    Task RecoverAsync();
}

/// <summary>What one silo has to tell the ConcurrencyGrain since its last call.</summary>
/// <param name="Released">Grants given back: the attempt ended, or the task refused the grant.</param>
/// <param name="Started">Grants a task accepted, with the attempt they run.</param>
/// <param name="Wake">A task became ready for a slot.</param>
[GenerateSerializer, Immutable]
public sealed record SlotUpdate(IReadOnlyList<long> Released, IReadOnlyList<SlotStart> Started, bool Wake);

[GenerateSerializer, Immutable]
public sealed record SlotStart(long GrantId, string SiloId, int Attempt);
