namespace OrleansScheduler;

/// <summary>Operations over many tasks at once: whole DAGs, listings, counters, silos. A stateless
/// worker on every silo; its reads come from the tables grain storage writes, never from a grain per row.</summary>
public interface ITaskCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>All or nothing: dependencies may point inside the batch, in any order, or at
    /// existing tasks. A batch of 100,000 tasks takes seconds, more on a busy machine: longer than
    /// Orleans' default 30 s response timeout must not turn a batch that commits into an error.</summary>
    [ResponseTimeout("00:05:00")]
    Task<IReadOnlyList<SubmittedTask>> SubmitBatchAsync(IReadOnlyList<TaskSpec> specs);

    Task<TaskPage> ListAsync(TaskQuery query);

    Task<SchedulerStats> GetStatsAsync();

    Task<IReadOnlyList<SiloView>> GetSilosAsync();
}
