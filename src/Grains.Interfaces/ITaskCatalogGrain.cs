namespace OrleansScheduler;

/// <summary>Operations over many tasks at once: whole DAGs, listings, counters.</summary>
public interface ITaskCatalogGrain
{
    /// <summary>All or nothing: dependencies may point inside the batch, in any order, or at
    /// existing tasks.</summary>
    Task<IReadOnlyList<SubmittedTask>> SubmitBatchAsync(IReadOnlyList<TaskSpec> specs, CancellationToken cancellationToken = default);

    Task<TaskPage> ListAsync(TaskQuery query, CancellationToken cancellationToken = default);

    Task<SchedulerStats> GetStatsAsync(CancellationToken cancellationToken = default);

    Task<IReadOnlyList<SiloView>> GetSilosAsync(CancellationToken cancellationToken = default);
}
