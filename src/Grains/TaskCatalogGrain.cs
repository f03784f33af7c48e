using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains;

internal sealed class TaskCatalogGrain(ITaskStore store) : ITaskCatalogGrain
{
    public Task<IReadOnlyList<SubmittedTask>> SubmitBatchAsync(IReadOnlyList<TaskSpec> specs, CancellationToken cancellationToken = default) =>
        store.SubmitAsync(DagValidator.Plan(specs), cancellationToken);

    public Task<TaskPage> ListAsync(TaskQuery query, CancellationToken cancellationToken = default) => store.ListAsync(query, cancellationToken);

    public Task<SchedulerStats> GetStatsAsync(CancellationToken cancellationToken = default) => store.GetStatsAsync(cancellationToken);

    public Task<IReadOnlyList<SiloView>> GetSilosAsync(CancellationToken cancellationToken = default) => store.GetSilosAsync(cancellationToken);
}
