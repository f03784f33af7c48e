using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Hosting;
using OrleansScheduler.Silo.Handlers;
using OrleansScheduler.Silo.Membership;
using OrleansScheduler.Silo.Reminders;

namespace OrleansScheduler.Silo.Hosting;

public static class SiloServiceCollectionExtensions
{
    /// <summary>Hosts a silo in this process: membership, dispatcher, executor, handlers.</summary>
    public static IServiceCollection AddSilo(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddGrains(configuration);
        services.AddOptions<SiloOptions>().Bind(configuration.GetSection(SiloOptions.SectionName));
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<SiloOptions>>().Value;
            options.Validate();
            return new SiloIdentity(options.ResolveSiloId(), sp.GetRequiredService<TimeProvider>().GetUtcNow());
        });
        services.TryAddSingleton<SimulatorHandler>();
        services.TryAddSingleton<TaskHandlerRegistry>();
        services.AddHttpClient(HttpRequestHandler.ClientName, client => client.Timeout = TimeSpan.FromMinutes(5));
        services.AddTaskHandler<HttpRequestHandler>(HttpRequestHandler.TypeName);
        services.TryAddSingleton<Executor>();
        services.AddHostedService<SiloMembership>();
        services.AddHostedService<ReminderService>();
        services.AddHostedService<Dispatcher>();
        return services;
    }

    /// <summary>Registers <typeparamref name="THandler"/> (a singleton) for tasks of <paramref name="type"/>.</summary>
    public static IServiceCollection AddTaskHandler<THandler>(this IServiceCollection services, string type)
        where THandler : class, ITaskHandler
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        services.AddKeyedSingleton<ITaskHandler, THandler>(type);
        return services;
    }
}
