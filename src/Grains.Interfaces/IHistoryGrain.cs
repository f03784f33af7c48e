namespace OrleansScheduler;

/// <summary>The dashboard's pictures (issue 10, point 7): throughput and queue depth over the last
/// minutes, the run-time histogram, and a task's DAG neighbourhood. A stateless worker on every
/// silo; every read is bounded (per-second counters, periodic samples, the latest completions, a
/// capped walk of the edges), so none grows with the number of stored tasks.</summary>
public interface IHistoryGrain : IGrainWithIntegerKey
{
    /// <summary>Completed and failed tasks per <paramref name="stepSeconds"/> interval, and the
    /// queue-depth samples, over the last <paramref name="minutes"/>.</summary>
    Task<StatsHistory> GetHistoryAsync(int minutes, int stepSeconds);

    /// <summary>Run times (started to completed) of the latest completions, in buckets.</summary>
    Task<RunTimeHistogram> GetRunTimesAsync();

    /// <summary>The task's dependencies and dependents up to <paramref name="depth"/> levels each
    /// way, at most <paramref name="maxNodes"/> tasks, with the critical path through it; null when
    /// no task has that id.</summary>
    Task<TaskGraph?> GetGraphAsync(string id, int depth, int maxNodes);
}
