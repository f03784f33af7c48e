namespace OrleansScheduler;

/// <summary>Why a task that is neither running nor finished is not running.</summary>
/// <param name="Reason">"dependencies", "run_at", "backoff" or "slots".</param>
/// <param name="Message">The same as a sentence.</param>
/// <param name="Dependencies">Unfinished dependencies with their status, for "dependencies".</param>
/// <param name="Until">When it becomes ready, for "run_at" and "backoff".</param>
/// <param name="SlotHolders">Ids of the tasks holding every slot, for "slots".</param>
[GenerateSerializer, Immutable]
public sealed record BlockedBy(
    string Reason,
    string Message,
    IReadOnlyList<DependencyState>? Dependencies = null,
    DateTimeOffset? Until = null,
    IReadOnlyList<string>? SlotHolders = null);

[GenerateSerializer, Immutable]
public sealed record DependencyState(string Id, TaskStatus Status);
