using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansScheduler.Grains.History;

public static class HistoryServices
{
    /// <summary>What a silo needs for the dashboard's history: its options (History section), the
    /// reads behind <see cref="IHistoryGrain"/> and the queue-depth sampler.</summary>
    public static IServiceCollection AddSchedulerHistory(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<HistoryOptions>().Bind(configuration.GetSection(HistoryOptions.SectionName)).Validate(o =>
        {
            o.Validate();
            return true;
        }).ValidateOnStart();
        services.TryAddSingleton<HistoryReadModel>();
        services.AddHostedService<QueueDepthSampler>();
        return services;
    }
}
