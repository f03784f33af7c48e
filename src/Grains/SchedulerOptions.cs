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

    /// <summary>The period of the recovery reminders (the ConcurrencyGrain's and the sweeper's):
    /// the bound on how long interrupted work waits when the fast paths (a silo's start, a silo's
    /// death) missed it. Orleans' minimum reminder period is one minute unless configured lower.</summary>
    public TimeSpan RecoveryPeriod { get; set; } = TimeSpan.FromMinutes(1);

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

        if (RecoveryPeriod < TimeSpan.FromSeconds(1) || RecoveryPeriod >= Tasks.TaskGrain.TimerHorizon)
        {
            throw new InvalidOperationException(
                $"{SectionName}:{nameof(RecoveryPeriod)} must be at least a second and shorter than {Tasks.TaskGrain.TimerHorizon.TotalMinutes} minutes (the due-time horizon).");
        }

        if (RetryBackoff < TimeSpan.Zero || RetryBackoffMax < RetryBackoff || RetryBackoffMax > TimeSpan.FromMilliseconds(TaskSpec.MaxBackoffMs))
        {
            throw new InvalidOperationException(
                $"{SectionName}: {nameof(RetryBackoff)} must be 0 or more and {nameof(RetryBackoffMax)} from it up to a day.");
        }
    }
}
