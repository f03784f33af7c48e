using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OrleansScheduler.WebApi.Telemetry;

/// <summary>Degraded while an alert fires (the process still serves; an operator should look).</summary>
internal sealed class AlertsHealthCheck(AlertEvaluator alerts) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var firing = alerts.Firing;
        return Task.FromResult(firing.Count == 0
            ? HealthCheckResult.Healthy("No alert is firing.")
            : HealthCheckResult.Degraded("Firing: " + string.Join("; ", firing.Select(a => $"{a.Name} ({a.Message})"))));
    }
}
