using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Execution;
using OrleansScheduler.Grains.Tasks;

namespace OrleansScheduler.Grains.Workers;

/// <summary>Who runs a ready task, decided on the silo where it becomes QUEUED: a type with a
/// handler in the silos runs there; else a type that a registered external worker lists in its
/// capabilities waits for a worker; else the silos' simulator runs it (Workers:UnclaimedTypes =
/// Simulate, the default) or it waits for a worker (Wait). The workers' claims are this silo's copy
/// of the WorkerDirectoryGrain's, refreshed every second (<see cref="WorkerClaimsRefresher"/>) and
/// at once by a registration made through this silo.</summary>
public sealed class TaskRouting(IAttemptRunner runner, IOptions<WorkerOptions> options)
{
    private volatile WorkerClaimSet _claims = new(0, new HashSet<string>(StringComparer.Ordinal));

    public long Version => _claims.Version;

    /// <summary>Null for the silos, <see cref="TaskQueues.Worker"/> for an external worker.</summary>
    public string? QueueFor(string type) =>
        runner.HasHandler(type) ? null
        : _claims.Types.Contains(type) || options.Value.UnclaimedTypes == UnclaimedTypes.Wait ? TaskQueues.Worker
        : null;

    public void Apply(WorkerClaims? claims)
    {
        if (claims is not null && claims.Version > _claims.Version)
        {
            _claims = new WorkerClaimSet(claims.Version, claims.Types.ToHashSet(StringComparer.Ordinal));
        }
    }

    private sealed record WorkerClaimSet(long Version, HashSet<string> Types);
}
