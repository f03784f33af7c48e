using System.Data.Common;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>The cluster engine: one PostgreSQL database shared by every silo. Each silo
/// group-commits its own grains' writes on a few writer connections; reads come from the pool.
/// Migrations run at start-up under an advisory lock, so silos may start together.</summary>
public sealed partial class PostgresDatabase : SchedulerDatabase
{
    /// <summary>Npgsql's default pool of 100 connections per silo would let two silos exhaust
    /// PostgreSQL's default max_connections (100); a silo needs its writers and a few readers.</summary>
    public const int DefaultMaxPoolSize = 20;

    private readonly StorageOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly NpgsqlConnectionStringBuilder _builder;
    private readonly string _writeConnectionString;

    public PostgresDatabase(StorageOptions options, TimeProvider timeProvider, ILogger<PostgresDatabase> logger)
        : base("postgresql")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        ConnectionString = ConnectionStringFor(options.DatabaseUrl);
        _builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        _writeConnectionString = new NpgsqlConnectionStringBuilder(ConnectionString)
        {
            // The writers run the same few statements all day: let Npgsql prepare them.
            MaxAutoPrepare = 64,
            AutoPrepareMinUsages = 2,
        }.ConnectionString;
    }

    /// <summary>The Npgsql connection string, also given to Orleans' ADO.NET providers.</summary>
    public string ConnectionString { get; }

    public override string Description => $"{_builder.Host}:{_builder.Port}/{_builder.Database}";

    public override async Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken = default)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Each idle session holds a connection of the silo's pool (<see cref="DefaultMaxPoolSize"/>,
    /// shared with the writers and Orleans' providers): a few.</summary>
    protected override int IdleReadSessions => 4;

    protected override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var applied = await PostgresMigrator.ApplyAsync(connection, _logger, cancellationToken).ConfigureAwait(false);
        LogOpened(_logger, Description, applied);
    }

    private protected override GroupCommitWriter CreateWriter() =>
        new(this, threads: _options.PostgresWriters, _options.MaxTurnsPerCommit, retryFor: TimeSpan.FromSeconds(10), _timeProvider, _logger);

    internal override DbConnection OpenWriteConnection()
    {
        var connection = new NpgsqlConnection(_writeConnectionString);
        connection.Open();
        return connection;
    }

    internal override DbTransaction BeginWriteTransaction(DbConnection connection) => ((NpgsqlConnection)connection).BeginTransaction();

    internal override bool IsTransient(Exception exception) => exception switch
    {
        PostgresException pg => pg.SqlState is "40001" or "40P01" || pg.SqlState.StartsWith("08", StringComparison.Ordinal)
            || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState.StartsWith("53", StringComparison.Ordinal),
        NpgsqlException npgsql => npgsql.IsTransient,
        TimeoutException => true,
        _ => false,
    };

    /// <summary>Anything PostgreSQL says that is not about the data a write sent (integrity class 23,
    /// data class 22) is the database's own failure.</summary>
    internal override bool IsFatal(Exception exception) => exception switch
    {
        PostgresException pg => !pg.SqlState.StartsWith("23", StringComparison.Ordinal) && !pg.SqlState.StartsWith("22", StringComparison.Ordinal),
        NpgsqlException or ObjectDisposedException => true,
        _ => false,
    };

    /// <summary>The Npgsql connection string of DATABASE_URL, with a pool of
    /// <see cref="DefaultMaxPoolSize"/> unless the URL sets one.</summary>
    public static string ConnectionStringFor(string databaseUrl)
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnectionStrings.ToConnectionString(databaseUrl));
        if (!new[] { "Maximum Pool Size", "Max Pool Size", "MaxPoolSize" }.Any(k => databaseUrl.Contains(k, StringComparison.OrdinalIgnoreCase)))
        {
            builder.MaxPoolSize = DefaultMaxPoolSize;
        }

        return builder.ConnectionString;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Opened PostgreSQL database {Database}; applied {Applied} migrations")]
    private static partial void LogOpened(ILogger logger, string database, int applied);
}
