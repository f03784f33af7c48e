using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains;

internal sealed class GrainFactory(ITaskStore store) : IGrainFactory
{
    private readonly ConcurrencyGrain _concurrency = new(store);
    private readonly TaskCatalogGrain _catalog = new(store);

    public ITaskGrain GetTaskGrain(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return new TaskGrain(id, store);
    }

    public IConcurrencyGrain GetConcurrencyGrain() => _concurrency;

    public ITaskCatalogGrain GetCatalogGrain() => _catalog;
}
