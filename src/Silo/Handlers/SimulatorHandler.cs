using System.Text.Json;

namespace OrleansScheduler.Silo.Handlers;

/// <summary>Runs every type without a handler, as every seed does: it waits duration_ms. An optional
/// payload.simulate object steers it: fail_attempts n fails the first n attempts; result is
/// returned as the task's result.</summary>
public sealed class SimulatorHandler(TimeProvider timeProvider) : ITaskHandler
{
    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        if (execution.DurationMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(execution.DurationMs), timeProvider, cancellationToken).ConfigureAwait(false);
        }

        JsonElement? result = null;
        if (execution.Payload is { ValueKind: JsonValueKind.Object } payload
            && payload.TryGetProperty("simulate", out var simulate)
            && simulate.ValueKind == JsonValueKind.Object)
        {
            if (simulate.TryGetProperty("fail_attempts", out var failAttempts)
                && failAttempts.TryGetInt32(out var failures)
                && execution.Attempt <= failures)
            {
                throw new SimulatedFailureException(
                    $"simulated failure of attempt {execution.Attempt} (payload.simulate.fail_attempts = {failures})");
            }

            if (simulate.TryGetProperty("result", out var simulated))
            {
                result = simulated.Clone();
            }
        }

        return result;
    }
}

public sealed class SimulatedFailureException(string message) : Exception(message);
