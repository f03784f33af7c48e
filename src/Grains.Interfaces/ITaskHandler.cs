using System.Text.Json;

namespace OrleansScheduler;

/// <summary>Runs tasks of one type. Register it in the silo by type name
/// (<c>services.AddTaskHandler&lt;MyHandler&gt;("my_type")</c>). Execution is at-least-once: a
/// handler may run again for the same task after a crash, so make it idempotent.</summary>
public interface ITaskHandler
{
    /// <param name="cancellationToken">Fires on cancel, timeout and silo shutdown.</param>
    /// <returns>The task's result, stored as JSON; null for none. Throw to fail the attempt.</returns>
    Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken);
}

/// <summary>What a handler is told about the attempt it runs.</summary>
public sealed record TaskExecution(string TaskId, string Type, JsonElement? Payload, long DurationMs, int Attempt, int MaxAttempts);
