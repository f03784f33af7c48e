namespace OrleansScheduler.Grains.Tasks;

/// <summary>How a submitted task enters the graph (<see cref="TaskStateMachine.Admit"/>).</summary>
/// <param name="Error">Set when a dependency already failed: the task starts UPSTREAM_FAILED with it.</param>
/// <param name="CauseId">With <paramref name="Error"/>: the root of the failure it names.</param>
public sealed record Admission(
    IReadOnlyList<string> Dependencies, int Pending, TaskStatus Status, string Reason, string? Error,
    string? CauseId = null, TaskStatus? CauseStatus = null);
