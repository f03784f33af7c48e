using System.Text.Json;

namespace OrleansScheduler;

/// <summary>One RUNNING attempt, as handed to the silo that claimed it. The (task, attempt, silo,
/// slot) quadruple is the fence: reports that do not match the live attempt are rejected.</summary>
public sealed record AttemptLease(
    string TaskId,
    int Attempt,
    int MaxAttempts,
    string SiloId,
    int Slot,
    string Type,
    long DurationMs,
    JsonElement? Payload,
    long? TimeoutMs,
    DateTimeOffset StartedAt);
