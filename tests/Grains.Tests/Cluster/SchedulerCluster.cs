using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Reminders;
using Orleans.Runtime;
using Orleans.TestingHost;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Support;
using OrleansScheduler.Silo.Hosting;

namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>The scheduler on Orleans' InProcessTestCluster: every silo runs
/// <see cref="SchedulerSiloExtensions.AddSchedulerRuntime"/> (the grains, their storage on a real
/// SQLite file or PostgreSQL database, reminders, the executor and the handlers) with the test's
/// configuration; the cluster brings its own membership and transport. The client is Orleans'
/// own (<see cref="Client"/>); results are read through the grains and from the database.</summary>
public sealed class SchedulerCluster : IAsyncDisposable
{
    /// <summary>Orleans' clocks stay the system's: a test that moves the scheduler's clock must not
    /// move membership, messaging timeouts or the reminder service.</summary>
    private static readonly string[] OrleansClocks =
    [
        TimeProviderNames.Grains, TimeProviderNames.Messaging, TimeProviderNames.SystemTimers, TimeProviderNames.Membership,
        TimeProviderNames.ActivationManagement, TimeProviderNames.GrainDirectory, ReminderTimeProviderNames.Reminders,
    ];

    private readonly InProcessTestCluster _cluster;
    private readonly ConcurrentQueue<string> _log;
    private bool _stopped;

    private SchedulerCluster(InProcessTestCluster cluster, SchedulerClusterOptions options, ConcurrentQueue<string> log)
    {
        _cluster = cluster;
        Options = options;
        _log = log;
    }

    public SchedulerClusterOptions Options { get; }

    public IClusterClient Client => _cluster.Client;

    public IGrainFactory Grains => _cluster.Client;

    public InProcessTestCluster TestCluster => _cluster;

    public ClusterProbe Probe => Options.Probe;

    public ShiftedClock Clock => Options.Clock;

    public bool IsPostgres => PostgresConnectionStrings.IsPostgres(Options.DatabaseUrl);

    /// <summary>A silo's own database object (its writer, its statements).</summary>
    public SchedulerDatabase Database(int silo = 0) => _cluster.Silos[silo].ServiceProvider.GetRequiredService<SchedulerDatabase>();

    /// <summary>A task's status as its row says, without activating its grain (an activation reads
    /// its dependencies and settles itself, which a test of a lost notification must not trigger).</summary>
    public async Task<TaskStatus?> StoredStatusAsync(string id) =>
        (await new TaskReadModel(Database(), TimeProvider.System).FindAsync(id))?.Status;

    public static async Task<SchedulerCluster> StartAsync(SchedulerClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var log = new ConcurrentQueue<string>();
        var builder = new InProcessTestClusterBuilder((short)options.Silos);
        builder.Options.ConfigureFileLogging = false;
        // The production service id: grain identities in the database (reminders, the adonet
        // storage) are the same for a cluster restarted on the same file.
        builder.Options.ServiceId = SchedulerSiloExtensions.ServiceId;
        builder.ConfigureSiloHost((silo, host) =>
        {
            host.Configuration.AddInMemoryCollection(SiloSettings(options, silo.SiloName));
            host.Logging.SetMinimumLevel(LogLevel.Warning);
            host.Logging.AddProvider(new CollectingLoggerProvider(log, silo.SiloName));
            var services = host.Services;
            services.AddSingleton<TimeProvider>(options.Clock);
            foreach (var key in OrleansClocks)
            {
                services.AddKeyedSingleton(key, TimeProvider.System);
            }

            services.AddSingleton(options.Probe);
            services.AddTaskHandler<GateHandler>(GateHandler.TypeName);
            services.AddTaskHandler<CountingHandler>(CountingHandler.TypeName);
            host.UseOrleans(siloBuilder => siloBuilder
                .AddSchedulerRuntime(host.Configuration)
                .AddOutgoingGrainCallFilter(new LostMessages(options.Probe))

                // The tests' own reminder grain ticks every second, below any RecoveryPeriod here.
                .Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1)));
        });
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return new SchedulerCluster(cluster, options, log);
    }

    /// <summary>A graceful stop of every silo: running attempts are handed back at once
    /// (Silo:ShutdownGracePeriod 0), nothing is lost.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await _cluster.StopAllSilosAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            Probe.OpenAll();
            await StopAsync();
        }
        finally
        {
            await _cluster.DisposeAsync();
        }
    }

    /// <summary>The silos' warnings and errors so far (the last 40), for a failing test's message.</summary>
    public string RecentLog() => string.Join(Environment.NewLine, _log.TakeLast(40));

    /// <summary>One value read straight from the database (parameters as @name).</summary>
    public async Task<T> ScalarAsync<T>(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = Command(connection, sql, parameters);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), CultureInfo.InvariantCulture);
    }

    /// <summary>Each row as its columns' values, read straight from the database.</summary>
    public async Task<List<object?[]>> RowsAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = Command(connection, sql, parameters);
        return await DbRows.ReadAsync(command);
    }

    private async Task<DbConnection> OpenAsync()
    {
        DbConnection connection = IsPostgres
            ? new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Options.DatabaseUrl) { ApplicationName = "test-reads", MaxPoolSize = 4 }.ConnectionString)
            : new SqliteConnection(SqliteDatabase.SharedConnectionStringFor(Options.DatabaseUrl));
        await connection.OpenAsync();
        return connection;
    }

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private static Dictionary<string, string?> SiloSettings(SchedulerClusterOptions options, string siloName)
    {
        var databaseUrl = options.DatabaseUrl;
        if (PostgresConnectionStrings.IsPostgres(databaseUrl))
        {
            // A pool of its own per silo, as separate processes would have, and a small one: the
            // test server is shared with the other test classes.
            databaseUrl = new NpgsqlConnectionStringBuilder(databaseUrl) { ApplicationName = siloName, MaxPoolSize = 8 }.ConnectionString;
        }

        var settings = new Dictionary<string, string?>
        {
            [$"{StorageOptions.SectionName}:{nameof(StorageOptions.DatabaseUrl)}"] = databaseUrl,
            [$"{StorageOptions.SectionName}:{nameof(StorageOptions.PostgresWriters)}"] = "1",
            [$"{SchedulerOptions.SectionName}:{nameof(SchedulerOptions.MaxConcurrentTasks)}"] = options.MaxConcurrentTasks.ToString(CultureInfo.InvariantCulture),
            [$"{SchedulerOptions.SectionName}:{nameof(SchedulerOptions.RecoveryPeriod)}"] = options.RecoveryPeriod.ToString("c", CultureInfo.InvariantCulture),
            // A stopping test silo hands its attempts back at once instead of waiting for them.
            ["Silo:ShutdownGracePeriod"] = "00:00:00",
        };
        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }

        return settings;
    }

    private sealed class CollectingLoggerProvider(ConcurrentQueue<string> log, string silo) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(log, silo, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> log, string silo, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel))
                {
                    return;
                }

                log.Enqueue($"[{DateTimeOffset.UtcNow:HH:mm:ss.fff} {silo} {logLevel} {category}] {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}");
                while (log.Count > 500 && log.TryDequeue(out _))
                {
                }
            }
        }
    }
}
