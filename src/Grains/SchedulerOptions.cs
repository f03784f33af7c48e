namespace OrleansScheduler.Grains;

/// <summary>Cluster-wide scheduling settings, bound from the "Scheduler" section;
/// MAX_CONCURRENT_TASKS also sets <see cref="MaxConcurrentTasks"/>.</summary>
public sealed class SchedulerOptions
{
    public const string SectionName = "Scheduler";
    public const int DefaultMaxConcurrentTasks = 3;
    public const int MaxSlots = 100_000;

    /// <summary>Never more tasks RUNNING at once than this, across the whole cluster.</summary>
    public int MaxConcurrentTasks { get; set; } = DefaultMaxConcurrentTasks;

    /// <summary>How long a RUNNING attempt's lease lasts; its silo renews it with every heartbeat.
    /// An attempt whose silo died is re-run once its lease expires, so this bounds how long a
    /// crash delays a task.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>A silo silent for longer than this is marked DEAD in the membership table.</summary>
    public TimeSpan SiloDeadAfter { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>How long a silo's membership row outlives its last heartbeat. Older rows (silos
    /// stopped or dead that long) are deleted when a silo registers, so restarts do not pile up in
    /// /api/workers.</summary>
    public TimeSpan SiloRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Delay before a failed task's first retry, for tasks that do not set retry_backoff_ms.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Cap on the retry delay, for tasks that do not set retry_backoff_max_ms.</summary>
    public TimeSpan RetryBackoffMax { get; set; } = TimeSpan.FromMinutes(5);

    public void Validate()
    {
        if (MaxConcurrentTasks is < 1 or > MaxSlots)
        {
            throw new InvalidOperationException(
                $"{SectionName}:{nameof(MaxConcurrentTasks)} (MAX_CONCURRENT_TASKS) must be from 1 to {MaxSlots}, not {MaxConcurrentTasks}.");
        }

        if (LeaseDuration < TimeSpan.FromMilliseconds(100) || SiloDeadAfter < TimeSpan.FromMilliseconds(100))
        {
            throw new InvalidOperationException($"{SectionName}: {nameof(LeaseDuration)} and {nameof(SiloDeadAfter)} must be at least 100 ms.");
        }

        if (SiloRetention < SiloDeadAfter)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(SiloRetention)} must be at least {nameof(SiloDeadAfter)}.");
        }

        if (RetryBackoff < TimeSpan.Zero || RetryBackoffMax < RetryBackoff || RetryBackoffMax > TimeSpan.FromMilliseconds(TaskSpec.MaxBackoffMs))
        {
            throw new InvalidOperationException(
                $"{SectionName}: {nameof(RetryBackoff)} must be 0 or more and {nameof(RetryBackoffMax)} from it up to a day.");
        }
    }
}
