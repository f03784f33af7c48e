namespace OrleansScheduler;

/// <summary>The scheduler's grains by their one way of being addressed: a task by its id, the
/// singletons and the catalog by key 0.</summary>
public static class SchedulerGrains
{
    public static ITaskGrain GetTaskGrain(this IGrainFactory grains, string id)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentException.ThrowIfNullOrEmpty(id);
        return grains.GetGrain<ITaskGrain>(id);
    }

    public static IConcurrencyGrain GetConcurrencyGrain(this IGrainFactory grains)
    {
        ArgumentNullException.ThrowIfNull(grains);
        return grains.GetGrain<IConcurrencyGrain>(0);
    }

    /// <summary>A stateless worker: each silo has its own activations of it.</summary>
    public static ITaskCatalogGrain GetCatalogGrain(this IGrainFactory grains)
    {
        ArgumentNullException.ThrowIfNull(grains);
        return grains.GetGrain<ITaskCatalogGrain>(0);
    }

    /// <summary>The dashboard's history and graphs: a stateless worker, like the catalog.</summary>
    public static IHistoryGrain GetHistoryGrain(this IGrainFactory grains)
    {
        ArgumentNullException.ThrowIfNull(grains);
        return grains.GetGrain<IHistoryGrain>(0);
    }
}
