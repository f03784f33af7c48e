namespace OrleansScheduler;

/// <summary>The last minutes of the scheduler, for the dashboard's charts.</summary>
/// <param name="Throughput">One point per interval from <paramref name="From"/>, oldest first, with
/// zeros where nothing ended; the last interval is the one under way.</param>
/// <param name="QueueDepth">The queue-depth samples of the window, oldest first (the first may be
/// the last sample before the window: the depth at its start).</param>
[GenerateSerializer, Immutable]
public sealed record StatsHistory(
    DateTimeOffset From,
    DateTimeOffset To,
    int StepSeconds,
    int SampleIntervalSeconds,
    long Completed,
    long Failed,
    IReadOnlyList<ThroughputPoint> Throughput,
    IReadOnlyList<QueueDepthPoint> QueueDepth);

/// <summary>Tasks that ended COMPLETED or FAILED in the interval starting at <paramref name="At"/>.</summary>
[GenerateSerializer, Immutable]
public sealed record ThroughputPoint(DateTimeOffset At, long Completed, long Failed);

/// <summary>Tasks in each not-yet-finished status at <paramref name="At"/>.</summary>
[GenerateSerializer, Immutable]
public sealed record QueueDepthPoint(DateTimeOffset At, long Waiting, long Scheduled, long Queued, long Running);

/// <summary>Run times of the latest <paramref name="Sample"/> completions (up to 1,000).</summary>
/// <param name="Buckets">From the first to the last bucket holding a run, in order; empty without completions.</param>
[GenerateSerializer, Immutable]
public sealed record RunTimeHistogram(int Sample, double? P50Ms, double? P99Ms, double? MaxMs, IReadOnlyList<RunTimeBucket> Buckets);

/// <summary>Runs that took at least <paramref name="FromMs"/> and less than <paramref name="ToMs"/> (null: no upper bound).</summary>
[GenerateSerializer, Immutable]
public sealed record RunTimeBucket(long FromMs, long? ToMs, long Count);
