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

    public void Validate()
    {
        if (MaxConcurrentTasks is < 1 or > MaxSlots)
        {
            throw new InvalidOperationException(
                $"{SectionName}:{nameof(MaxConcurrentTasks)} (MAX_CONCURRENT_TASKS) must be from 1 to {MaxSlots}, not {MaxConcurrentTasks}.");
        }
    }
}
