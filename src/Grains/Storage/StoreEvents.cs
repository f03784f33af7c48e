namespace OrleansScheduler.Grains.Storage;

/// <summary>What a commit tells the silos in this process besides "work available": that the
/// reminder table changed (so the reminder service recomputes its next due time), and which
/// RUNNING tasks were cancelled (so the executor running them cancels their handlers).</summary>
public sealed class StoreEvents
{
    public Signal RemindersChanged { get; } = new();

    /// <summary>Raised after the commit that cancelled a RUNNING task, with its id.</summary>
    public event Action<string>? RunningTaskCancelled;

    internal void RaiseCancelled(IEnumerable<string> taskIds)
    {
        foreach (var id in taskIds)
        {
            RunningTaskCancelled?.Invoke(id);
        }
    }
}
