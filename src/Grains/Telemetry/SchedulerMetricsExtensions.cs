using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansScheduler.Grains.Telemetry;

public static class SchedulerMetricsExtensions
{
    /// <summary>Telemetry:Metrics:MaxTypes: distinct task types tagged by name (the rest are "other").</summary>
    public const string MaxTypesKey = "Telemetry:Metrics:MaxTypes";

    /// <summary>Registers <see cref="SchedulerMetrics"/> (its Meter from the host's IMeterFactory).</summary>
    public static IServiceCollection AddSchedulerMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddMetrics();
        services.TryAddSingleton(provider => new SchedulerMetrics(
            provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            configuration.GetValue(MaxTypesKey, SchedulerMetrics.MaxTypesDefault)));
        return services;
    }
}
