using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.WebApi.Health;

/// <summary>Ready when the store is open and answers a query.</summary>
internal sealed class StoreHealthCheck(SchedulerDatabase store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.PingAsync(cancellationToken)
                ? HealthCheckResult.Healthy("The store answers.")
                : HealthCheckResult.Unhealthy("The store is not open yet.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The store does not answer.", ex);
        }
    }
}
