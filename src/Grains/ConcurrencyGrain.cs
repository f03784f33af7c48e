using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains;

/// <summary>The singleton that issues execution slots: the slot rows in the store are the only
/// source, so the limit holds however many silos claim at once.</summary>
internal sealed class ConcurrencyGrain(ITaskStore store) : IConcurrencyGrain
{
    public Task<IReadOnlyList<AttemptLease>> ClaimAsync(string siloId, int max, CancellationToken cancellationToken = default) =>
        store.ClaimAsync(siloId, max, cancellationToken);

    public Task<HandOver> ReleaseAndClaimAsync(IReadOnlyList<AttemptOutcome> finished, string siloId, int max, CancellationToken cancellationToken = default) =>
        store.ReleaseAndClaimAsync(finished, siloId, max, cancellationToken);

    public Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken = default) => store.GetSlotsAsync(cancellationToken);
}
