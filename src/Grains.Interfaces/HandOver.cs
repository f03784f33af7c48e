namespace OrleansScheduler;

/// <summary>What <see cref="IConcurrencyGrain.ReleaseAndClaimAsync"/> answers: for each finished
/// attempt whether its report was accepted, and the attempts newly claimed in the same turn.</summary>
public sealed record HandOver(IReadOnlyList<bool> Accepted, IReadOnlyList<AttemptLease> Leases);
