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
    DateTimeOffset? CompletedAt)
{
    /// <summary>The silo or external worker running (or that last ran) the task's attempt.</summary>
    [Id(8)]
    public string? WorkerId { get; init; }
}
