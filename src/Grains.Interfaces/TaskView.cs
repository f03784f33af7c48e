using System.Text.Json;

namespace OrleansScheduler;

/// <summary>A task as the API shows it.</summary>
[GenerateSerializer, Immutable]
public sealed record TaskView(
    string Id,
    string Type,
    TaskStatus Status,
    long DurationMs,
    IReadOnlyList<string> Dependencies,
    JsonElement? Payload,
    int Priority,
    DateTimeOffset? RunAt,
    long? TimeoutMs,
    int Attempts,
    int MaxAttempts,
    string? WorkerId,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    JsonElement? Result,
    string? Error,
    BlockedBy? BlockedBy);
