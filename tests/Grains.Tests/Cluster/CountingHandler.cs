using System.Text.Json;
using Orleans.Runtime;

namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>Type "count": waits duration_ms in real time, recorded in the probe: for properties over
/// many tasks (the limit, each task once).</summary>
public sealed class CountingHandler(ClusterProbe probe, ILocalSiloDetails silo) : ITaskHandler
{
    public const string TypeName = "count";

    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var entry = probe.Enter(execution, silo.Name);
        var outcome = "failed";
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(execution.DurationMs), cancellationToken);
            outcome = "succeeded";
            return null;
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
