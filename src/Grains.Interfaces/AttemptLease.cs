using System.Text.Json;

namespace OrleansScheduler;

/// <summary>One RUNNING attempt, as the TaskGrain hands it to its silo's executor. The grant is the
/// fence: a report whose grant is not the task's live one is rejected.</summary>
/// <param name="GrantId">The ConcurrencyGrain's grant of the slot this attempt holds; unique and
/// increasing across the cluster's life.</param>
[GenerateSerializer, Immutable]
public sealed record AttemptLease(
    string TaskId,
    int Attempt,
    int MaxAttempts,
    long GrantId,
    string SiloId,
    string Type,
    long DurationMs,
    JsonElement? Payload,
    long? TimeoutMs,
    DateTimeOffset StartedAt)
{
    /// <summary>The task's <see cref="TaskSpec.TraceParent"/>: the attempt's span is its child.</summary>
    [Id(10)]
    public string? TraceParent { get; init; }
}
