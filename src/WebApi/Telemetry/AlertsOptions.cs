namespace OrleansScheduler.WebApi.Telemetry;

/// <summary>The "Alerts" section: the thresholds of the rules the WebApi evaluates
/// (docs/operations.md). Bad values stop the start, saying which.</summary>
public sealed class AlertsOptions
{
    public const string SectionName = "Alerts";

    public bool Enabled { get; set; } = true;

    /// <summary>How often the rules are evaluated.</summary>
    public TimeSpan EvaluationInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>no_silo_alive: no ACTIVE silo (or no answer from the cluster) for this long.</summary>
    public TimeSpan NoSiloAliveFor { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>failure_rate_high: FAILED / (FAILED + COMPLETED) among the tasks that ended within
    /// <see cref="FailureRateWindow"/> is over this (0-1)...</summary>
    public double FailureRateThreshold { get; set; } = 0.2;

    public TimeSpan FailureRateWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>...and at least this many tasks ended in the window (a single failure is no rate).</summary>
    public int FailureRateMinTasks { get; set; } = 20;

    /// <summary>queue_wait_high: the p99 of queue wait (QUEUED to started, over the latest
    /// completions) is over this.</summary>
    public TimeSpan QueueWaitP99Threshold { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Completions the p99 must be over before queue_wait_high can fire.</summary>
    public int QueueWaitMinSample { get; set; } = 20;

    /// <summary>task_overdue: a RUNNING task has run longer than its timeout plus this (the executor
    /// should have failed it at the timeout; one past it is stuck). Tasks without a timeout are
    /// overdue after <see cref="TaskMaxRunTime"/> when that is set.</summary>
    public TimeSpan TaskOverdueGrace { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>task_overdue for tasks without a timeout_ms; null (the default): never.</summary>
    public TimeSpan? TaskMaxRunTime { get; set; }

    /// <summary>slots_saturated: every slot has been in use, and QUEUED has grown, for this long.</summary>
    public TimeSpan SlotsSaturatedFor { get; set; } = TimeSpan.FromMinutes(1);

    public void Validate()
    {
        static void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                throw new InvalidOperationException($"{SectionName}:{name} must be a positive time span (e.g. 00:00:05); it is {value}.");
            }
        }

        Positive(EvaluationInterval, nameof(EvaluationInterval));
        Positive(FailureRateWindow, nameof(FailureRateWindow));
        Positive(QueueWaitP99Threshold, nameof(QueueWaitP99Threshold));
        Positive(SlotsSaturatedFor, nameof(SlotsSaturatedFor));
        if (NoSiloAliveFor < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(NoSiloAliveFor)} must not be negative; it is {NoSiloAliveFor}.");
        }

        if (TaskOverdueGrace < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(TaskOverdueGrace)} must not be negative; it is {TaskOverdueGrace}.");
        }

        if (TaskMaxRunTime is { } max)
        {
            Positive(max, nameof(TaskMaxRunTime));
        }

        if (FailureRateThreshold is < 0 or > 1 || double.IsNaN(FailureRateThreshold))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(FailureRateThreshold)} must be a fraction from 0 to 1; it is {FailureRateThreshold}.");
        }

        if (FailureRateMinTasks < 1 || QueueWaitMinSample < 1)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(FailureRateMinTasks)} and {nameof(QueueWaitMinSample)} must be at least 1.");
        }
    }
}
