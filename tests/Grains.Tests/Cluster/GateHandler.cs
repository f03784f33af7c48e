using System.Text.Json;
using Orleans.Runtime;

namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>Type "gate": runs until the test opens the task's gate (<see cref="ClusterProbe.Open"/>),
/// or its token fires (cancel, timeout, shutdown); fails at once when the test asked for it
/// (<see cref="ClusterProbe.FailNext"/>). Recorded in the probe, so a test sees every attempt and
/// when it ran.</summary>
public sealed class GateHandler(ClusterProbe probe, ILocalSiloDetails silo) : ITaskHandler
{
    public const string TypeName = "gate";

    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var entry = probe.Enter(execution, silo.Name);
        var outcome = "failed";
        try
        {
            if (probe.TakeFailure(execution.TaskId))
            {
                throw new InvalidOperationException($"gate: attempt {execution.Attempt} fails as the test asked");
            }

            var result = await entry.Gate.Task.WaitAsync(cancellationToken);
            outcome = "succeeded";
            return result is null ? null : JsonDocument.Parse(result).RootElement.Clone();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = "cancelled";
            throw;
        }
        finally
        {
            probe.Exit(entry, outcome);
        }
    }
}
