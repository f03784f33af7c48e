namespace OrleansScheduler;

/// <summary>Why a task that is neither running nor finished is not running.</summary>
/// <param name="Reason">"dependencies", "run_at" or "slots".</param>
/// <param name="Message">The same as a sentence.</param>
/// <param name="Dependencies">Unfinished dependencies with their status, for "dependencies".</param>
/// <param name="Until">When it becomes ready, for "run_at".</param>
/// <param name="SlotHolders">Ids of the tasks holding every slot, for "slots".</param>
public sealed record BlockedBy(
    string Reason,
    string Message,
    IReadOnlyList<DependencyState>? Dependencies = null,
    DateTimeOffset? Until = null,
    IReadOnlyList<string>? SlotHolders = null);

public sealed record DependencyState(string Id, TaskStatus Status);
