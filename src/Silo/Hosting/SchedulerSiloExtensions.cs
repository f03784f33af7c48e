using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using OrleansScheduler.Grains;
using OrleansScheduler.Grains.Execution;
using OrleansScheduler.Grains.Hosting;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Silo.Handlers;
using OrleansScheduler.Silo.Logging;
using OrleansScheduler.Silo.Telemetry;
using Orleans.Dashboard;

namespace OrleansScheduler.Silo.Hosting;

public static class SchedulerSiloExtensions
{
    /// <summary>The Orleans service id: the grains' identity in the database (reminders, storage).</summary>
    public const string ServiceId = "orleans-scheduler";

    /// <summary>An Orleans silo of the scheduler, configured from the "Scheduler", "Storage" and "Silo"
    /// sections: its name, ports and clustering (in-process on SQLite, Orleans' ADO.NET membership on
    /// PostgreSQL), then everything <see cref="AddSchedulerRuntime"/> adds.</summary>
    public static ISiloBuilder AddScheduler(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(SchedulerSiloOptions.SectionName).Get<SchedulerSiloOptions>() ?? new SchedulerSiloOptions();
        options.Validate();
        var siloName = options.ResolveSiloId();
        var siloPort = options.SiloPort == 0 ? FreePort() : options.SiloPort;
        var gatewayPort = options.GatewayPort == 0 ? FreePort() : options.GatewayPort;

        silo.Configure<Orleans.Configuration.SiloOptions>(o => o.SiloName = siloName);
        silo.Services.AddSiloNameToLogs(siloName);
        if (SchedulerGrainsExtensions.IsPostgres(configuration))
        {
            silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, ServiceId));
            silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), siloPort, gatewayPort);
            silo.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", PostgresConnectionString(configuration)));
        }
        else
        {
            // One process owns the SQLite file: membership is this silo alone.
            silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: ServiceId, clusterId: options.ClusterId);
        }

        silo.Configure<ClusterMembershipOptions>(o => TuneFailureDetection(o, configuration));
        var telemetry = TelemetryOptions.From(configuration);
        if (telemetry.TracingEnabled)
        {
            // Carries the caller's span on grain calls; only with an exporter, so calls pay nothing otherwise.
            silo.AddActivityPropagation();
        }

        if (telemetry.OrleansDashboardEnabled)
        {
            // Its grains and call profiler on every silo: a front end's /orleans reads them. Its live
            // log stream is off: log lines may carry task payloads.
            silo.AddDashboard(o => o.HideTrace = true);
        }

        return silo.AddSchedulerRuntime(configuration);
    }

    /// <summary>What a silo of the scheduler runs, whatever hosts it (a process, or a test's
    /// InProcessTestCluster with its own membership): the grains and their storage, reminders (ours
    /// on SQLite, Orleans' ADO.NET on PostgreSQL), the executor and the handlers.</summary>
    public static ISiloBuilder AddSchedulerRuntime(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(configuration);
        silo.AddSchedulerGrains(configuration);

        // Orleans' own ADO.NET grain storage over the same database, for grains whose state is
        // small and rarely written (sql/*/000N_orleans_persistence.sql); TaskGrain and the
        // ConcurrencyGrain use our group-committed providers instead.
        if (SchedulerGrainsExtensions.IsPostgres(configuration))
        {
            var connectionString = PostgresConnectionString(configuration);
            silo.UseAdoNetReminderService(o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString));
            silo.AddAdoNetGrainStorage(StorageNames.AdoNet, o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString));
        }
        else
        {
            // "System.Data.SQLite" is Orleans' invariant for Microsoft.Data.Sqlite.
            var storage = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
            silo.AddAdoNetGrainStorage(StorageNames.AdoNet, o =>
                (o.Invariant, o.ConnectionString) = ("System.Data.SQLite", SqliteDatabase.SharedConnectionStringFor(storage.DatabaseUrl)));
        }

        // A task's grain is called for a short while and then never again: Orleans' directory cache
        // (a million entries by default) kept about 300 bytes for every task that ever ran, which
        // alone would take a long-running silo past its memory target (docs/performance.md).
        silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = 10_000);

        // The recovery reminders' period is Scheduler:RecoveryPeriod (a minute by default, Orleans'
        // floor); only a shorter one (tests) lowers the floor, so production keeps Orleans' default.
        var recoveryPeriod = configuration.GetSection(SchedulerOptions.SectionName).Get<SchedulerOptions>()?.RecoveryPeriod ?? new SchedulerOptions().RecoveryPeriod;
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = recoveryPeriod < o.MinimumReminderPeriod ? recoveryPeriod : o.MinimumReminderPeriod);

        var services = silo.Services;
        services.AddOptions<SchedulerSiloOptions>().Bind(configuration.GetSection(SchedulerSiloOptions.SectionName));
        services.TryAddSingleton<SimulatorHandler>();
        services.TryAddSingleton<TaskHandlerRegistry>();
        services.AddHttpClient(HttpRequestHandler.ClientName, client => client.Timeout = TimeSpan.FromMinutes(5));
        services.AddTaskHandler<HttpRequestHandler>(HttpRequestHandler.TypeName);
        services.TryAddSingleton<Executor>();
        services.TryAddSingleton<IAttemptRunner>(provider => provider.GetRequiredService<Executor>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(provider => provider.GetRequiredService<Executor>());
        return silo;
    }

    /// <summary>How often a front end reads the silos' gateways from the membership table. Orleans'
    /// default is a minute, and until it reads the table again a client keeps sending requests to
    /// the gateway of a silo the cluster declared dead: one that froze (SIGSTOP, a long pause)
    /// without closing its connections held every request of the front end for Orleans' response
    /// timeout, for up to a minute (issue 9, SiloPauseTests).</summary>
    public static readonly TimeSpan GatewayListRefreshPeriod = TimeSpan.FromSeconds(5);

    /// <summary>A pure front end's Orleans client: it finds the silos' gateways in the membership
    /// table of the same PostgreSQL database (a SQLite file has one process, so no front end), and
    /// reads them again every <see cref="GatewayListRefreshPeriod"/>.</summary>
    public static IClientBuilder AddSchedulerClient(this IClientBuilder client, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!SchedulerGrainsExtensions.IsPostgres(configuration))
        {
            throw new InvalidOperationException(
                "Silo:Enabled=false makes a front end of a cluster on PostgreSQL; with SQLite (DATABASE_URL is a file) the WebApi hosts the silo itself.");
        }

        var options = configuration.GetSection(SchedulerSiloOptions.SectionName).Get<SchedulerSiloOptions>() ?? new SchedulerSiloOptions();
        client.Services.AddSchedulerDatabase(configuration);
        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, ServiceId));
        client.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", PostgresConnectionString(configuration)));
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = GatewayListRefreshPeriod);
        if (TelemetryOptions.From(configuration).TracingEnabled)
        {
            client.AddActivityPropagation();
        }

        return client;
    }

    /// <summary>Registers <typeparamref name="THandler"/> (a singleton) for tasks of <paramref name="type"/>.</summary>
    public static IServiceCollection AddTaskHandler<THandler>(this IServiceCollection services, string type)
        where THandler : class, ITaskHandler
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        services.AddKeyedSingleton<ITaskHandler, THandler>(type);
        return services;
    }

    /// <summary>Orleans' defaults take about 15 s to declare a killed silo dead here; these take
    /// 2-3 s (docs/performance.md), while a silo starved of CPU for a few seconds is not declared
    /// dead: two silos must vote, probes that time out while this silo's own timers run late are
    /// extended (Orleans' local health monitor), and a suspect is probed indirectly through another
    /// silo before a vote. Any ClusterMembershipOptions property can be set under Silo:Membership.</summary>
    private static void TuneFailureDetection(ClusterMembershipOptions options, IConfiguration configuration)
    {
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.NumMissedProbesLimit = 2;
        options.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(2);
        options.DefunctSiloExpiration = TimeSpan.FromDays(1);
        configuration.GetSection($"{SchedulerSiloOptions.SectionName}:Membership").Bind(options);
    }

    private static string PostgresConnectionString(IConfiguration configuration)
    {
        var storage = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        return PostgresDatabase.ConnectionStringFor(storage.DatabaseUrl);
    }

    /// <summary>A port nobody listens on now, so processes on one machine start side by side.</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
