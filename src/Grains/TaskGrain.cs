using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains;

/// <summary>One task. Stateless between turns: its state is the store's row, so any silo can host
/// any turn, and a turn either commits whole or changes nothing.</summary>
internal sealed class TaskGrain(string id, ITaskStore store) : ITaskGrain
{
    public string Id { get; } = id;

    public async Task<SubmittedTask> SubmitAsync(TaskSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Id != Id)
        {
            throw new ArgumentException($"Spec id '{spec.Id}' submitted to the grain of '{Id}'.", nameof(spec));
        }

        var submitted = await store.SubmitAsync(DagValidator.Plan([spec]), cancellationToken).ConfigureAwait(false);
        return submitted[0];
    }

    public Task<TaskStatus?> CancelAsync(CancellationToken cancellationToken = default) => store.CancelAsync(Id, cancellationToken);

    public Task<TaskStatus?> RetryAsync(CancellationToken cancellationToken = default) => store.RetryAsync(Id, cancellationToken);

    public Task<TaskView?> GetAsync(CancellationToken cancellationToken = default) => store.GetAsync(Id, cancellationToken);

    public Task<IReadOnlyList<TaskEvent>?> GetEventsAsync(CancellationToken cancellationToken = default) =>
        store.GetEventsAsync(Id, cancellationToken);

    public Task<bool> ReportAsync(AttemptOutcome outcome, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return outcome.Lease.TaskId == Id
            ? store.ReportAsync(outcome, cancellationToken)
            : throw new ArgumentException($"Outcome of '{outcome.Lease.TaskId}' reported to the grain of '{Id}'.", nameof(outcome));
    }

    public Task<bool> HandBackAsync(AttemptLease lease, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return store.HandBackAsync(lease, reason, cancellationToken);
    }
}
