using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Runtime.Hosting;
using Orleans.Runtime;
using OrleansScheduler.Grains.Concurrency;
using OrleansScheduler.Grains.History;
using OrleansScheduler.Grains.Recovery;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Telemetry;
using OrleansScheduler.Grains.Workers;

namespace OrleansScheduler.Grains.Hosting;

public static class SchedulerGrainsExtensions
{
    /// <summary>The database: SQLite or PostgreSQL by Storage:DatabaseUrl (DATABASE_URL), opened
    /// (migrated) before anything else in the process starts, since Orleans' ADO.NET membership
    /// reads its tables at the silo's (or client's) start. Every process may migrate: PostgreSQL
    /// serializes them under an advisory lock.</summary>
    public static IServiceCollection AddSchedulerDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SchedulerOptions>().Bind(configuration.GetSection(SchedulerOptions.SectionName)).Validate(o =>
        {
            o.Validate();
            return true;
        });
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.SectionName));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SchedulerDatabase>(provider =>
        {
            var storage = provider.GetRequiredService<IOptions<StorageOptions>>().Value;
            var time = provider.GetRequiredService<TimeProvider>();
            var loggers = provider.GetRequiredService<ILoggerFactory>();
            return IsPostgres(configuration)
                ? new PostgresDatabase(storage, time, loggers.CreateLogger<PostgresDatabase>())
                : new SqliteDatabase(storage, time, loggers.CreateLogger<SqliteDatabase>());
        });
        services.TryAddSingleton<TaskReadModel>();
        if (!services.Any(d => d.ImplementationType == typeof(DatabaseLifetime)))
        {
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService, DatabaseLifetime>());
        }

        return services;
    }

    /// <summary>Whether Storage:DatabaseUrl names PostgreSQL (postgres://, postgresql:// or an Npgsql
    /// connection string); anything else is a SQLite file.</summary>
    public static bool IsPostgres(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return PostgresConnectionStrings.IsPostgres(configuration[$"{StorageOptions.SectionName}:{nameof(StorageOptions.DatabaseUrl)}"]);
    }

    /// <summary>The grains' side of a silo: the database, the grain storage of TaskGrains and of the
    /// ConcurrencyGrain (one group commit for both), the per-silo slot batcher, recovery's fast
    /// paths, the filter that reports an unreachable database as such, and on SQLite Orleans' reminder table over the same file (on PostgreSQL the host
    /// configures Orleans' ADO.NET reminders).</summary>
    public static ISiloBuilder AddSchedulerGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var services = silo.Services;
        services.AddSchedulerDatabase(configuration);
        services.AddSchedulerMetrics(configuration);
        services.AddGrainStorage(StorageNames.Tasks, (provider, _) => new TaskStateStorage(provider.GetRequiredService<SchedulerDatabase>()));
        services.AddGrainStorage(StorageNames.Slots, (provider, _) => new ConcurrencyStateStorage(provider.GetRequiredService<SchedulerDatabase>()));
        services.TryAddSingleton<SlotRequests>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(provider => provider.GetRequiredService<SlotRequests>());
        services.AddOptions<WorkerOptions>().Bind(configuration.GetSection(WorkerOptions.SectionName)).Validate(o =>
        {
            o.Validate();
            return true;
        });
        services.TryAddSingleton<TaskRouting>();
        services.AddSingleton<WorkerClaimsRefresher>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(provider => provider.GetRequiredService<WorkerClaimsRefresher>());
        services.AddSchedulerHistory(configuration);
        services.AddSingleton<RecoveryTriggers>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(provider => provider.GetRequiredService<RecoveryTriggers>());
        silo.AddIncomingGrainCallFilter<StoreUnavailableFilter>();
        if (!IsPostgres(configuration))
        {
            silo.AddReminders();
            services.AddSingleton<IReminderTable>(provider => new SqliteReminderTable(provider.GetRequiredService<SchedulerDatabase>()));
        }

        return silo;
    }

    /// <summary>Opens the database first at start and closes it last at stop.</summary>
    private sealed class DatabaseLifetime(SchedulerDatabase database) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
