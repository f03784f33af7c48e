namespace OrleansScheduler;

[GenerateSerializer, Immutable]
public sealed record SchedulerStats(
    IReadOnlyDictionary<TaskStatus, long> Counts,
    long Total,
    SlotsView Slots,
    int SilosAlive,
    ThroughputView Throughput,
    LatencyView Latency);

[GenerateSerializer, Immutable]
public sealed record SlotsView(int Limit, int InUse, IReadOnlyList<SlotHolder> Holders);

[GenerateSerializer, Immutable]
public sealed record SlotHolder(int Slot, string TaskId, string SiloId, int Attempt, DateTimeOffset Since);

/// <param name="CompletedLastMinute">Attempts that ended COMPLETED in the last 60 s.</param>
[GenerateSerializer, Immutable]
public sealed record ThroughputView(long CompletedLastMinute, double PerSecond);

/// <summary>Over the most recent completions (up to 1,000).</summary>
/// <param name="QueueWaitP50Ms">Ready to started, median.</param>
[GenerateSerializer, Immutable]
public sealed record LatencyView(int Sample, double? QueueWaitP50Ms, double? QueueWaitP99Ms, double? RunP50Ms, double? RunP99Ms);
