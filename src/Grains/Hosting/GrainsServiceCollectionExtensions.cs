using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Storage.Sqlite;

namespace OrleansScheduler.Grains.Hosting;

public static class GrainsServiceCollectionExtensions
{
    /// <summary>Registers the grains and their store, bound to the "Scheduler" and "Storage"
    /// sections. The store opens (migrates, recovers) before any other hosted service starts.</summary>
    public static IServiceCollection AddGrains(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SchedulerOptions>().Bind(configuration.GetSection(SchedulerOptions.SectionName));
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.SectionName));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<WorkSignal>();
        services.TryAddSingleton<StoreEvents>();
        // The engine follows Storage:DatabaseUrl (DATABASE_URL): postgres://, postgresql:// or an
        // Npgsql connection string means PostgreSQL (a cluster of silos); anything else is a SQLite file.
        services.TryAddSingleton<ITaskStore>(provider =>
            PostgresConnectionStrings.IsPostgres(provider.GetRequiredService<IOptions<StorageOptions>>().Value.DatabaseUrl)
                ? ActivatorUtilities.CreateInstance<PostgresTaskStore>(provider)
                : ActivatorUtilities.CreateInstance<SqliteTaskStore>(provider));
        services.TryAddSingleton<IGrainFactory, GrainFactory>();
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService, StoreLifetime>());
        return services;
    }

    /// <summary>Opens the store at start and closes it last at stop.</summary>
    private sealed class StoreLifetime(ITaskStore store) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
