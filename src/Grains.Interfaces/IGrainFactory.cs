namespace OrleansScheduler;

/// <summary>How callers reach grains; nothing outside src/Grains knows how their state is kept.</summary>
public interface IGrainFactory
{
    ITaskGrain GetTaskGrain(string id);

    IConcurrencyGrain GetConcurrencyGrain();

    ITaskCatalogGrain GetCatalogGrain();
}
