namespace OrleansScheduler;

/// <summary>One row of a task listing.</summary>
[GenerateSerializer, Immutable]
public sealed record TaskSummary(
    string Id,
    string Type,
    TaskStatus Status,
    int Priority,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt);
