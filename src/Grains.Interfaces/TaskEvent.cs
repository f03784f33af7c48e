namespace OrleansScheduler;

/// <summary>One transition in a task's history.</summary>
[GenerateSerializer, Immutable]
public sealed record TaskEvent(
    DateTimeOffset At,
    TaskStatus? From,
    TaskStatus To,
    string? SiloId,
    int? Attempt,
    string? Reason);
