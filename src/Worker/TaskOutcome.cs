namespace OrleansScheduler.Worker;

/// <summary>What running a task gave: completed with a result (raw JSON text, or null for none), or
/// failed with an error message.</summary>
internal readonly record struct TaskOutcome(bool Succeeded, string? ResultJson, string? Error)
{
    public static TaskOutcome Completed(string? resultJson) => new(true, resultJson, null);

    public static TaskOutcome Failed(string error) => new(false, null, error);
}
