using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace OrleansScheduler.Grains.Storage.Sqlite;

/// <summary>The one-process engine: a SQLite file in WAL mode, one writer thread with group commit,
/// pooled connections for reads (WAL lets them run beside the writer). SQLite serves one process per
/// file; a lock file makes a second process a clear error instead of a silent risk.</summary>
public sealed partial class SqliteDatabase : SchedulerDatabase
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteConstraint = 19;

    private readonly StorageOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly string _readConnectionString;
    private readonly string _writeConnectionString;
    private FileStream? _lock;

    public SqliteDatabase(StorageOptions options, TimeProvider timeProvider, ILogger<SqliteDatabase> logger)
        : base("sqlite")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        FilePath = Path.GetFullPath(PathFromUrl(options.DatabaseUrl));
        _readConnectionString = SharedConnectionStringFor(options.DatabaseUrl);
        _writeConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string FilePath { get; }

    public override string Description => FilePath;

    /// <summary>For Orleans' ADO.NET providers over the same file (the "adonet" grain storage):
    /// pooled, with a busy timeout, since our writer holds the write lock most of the time.</summary>
    public string SharedConnectionString => _readConnectionString;

    /// <summary>The connection string of reads, and of Orleans' ADO.NET grain storage over the same
    /// file: pooled, with a 30 s busy timeout (Microsoft.Data.Sqlite retries a locked database that
    /// long), since our writer holds the write lock much of the time.</summary>
    public static string SharedConnectionStringFor(string databaseUrl) => new SqliteConnectionStringBuilder
    {
        DataSource = Path.GetFullPath(PathFromUrl(databaseUrl)),
        Mode = SqliteOpenMode.ReadWrite,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Accepts a plain path, "sqlite:path", "file:path" or "Data Source=path".</summary>
    public static string PathFromUrl(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        foreach (var prefix in new[] { "sqlite://", "sqlite:", "file://", "file:" })
        {
            if (url.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return url[prefix.Length..];
            }
        }

        return url.Contains('=', StringComparison.Ordinal) ? new SqliteConnectionStringBuilder(url).DataSource : url;
    }

    public override async Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(_readConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Reads run beside the one writer (WAL): enough sessions for the grains reading at once.</summary>
    protected override int IdleReadSessions => 8;

    protected override Task MigrateAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        _lock = AcquireLock(FilePath + ".lock");
        using var connection = (SqliteConnection)OpenWriteConnection();
        Execute(connection, "PRAGMA journal_mode = WAL");
        SqliteMigrator.Apply(connection, _logger);
        LogOpened(_logger, FilePath, _options.Synchronous);
        return Task.CompletedTask;
    }

    private protected override GroupCommitWriter CreateWriter() =>
        new(this, threads: 1, _options.MaxTurnsPerCommit, retryFor: TimeSpan.FromSeconds(10), _timeProvider, _logger);

    protected override ValueTask CloseAsync()
    {
        _lock?.Dispose();
        _lock = null;
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }

    internal override DbConnection OpenWriteConnection()
    {
        var connection = new SqliteConnection(_writeConnectionString);
        connection.Open();
        Execute(connection, $"PRAGMA synchronous = {_options.Synchronous}");
        Execute(connection, "PRAGMA temp_store = MEMORY");
        Execute(connection, "PRAGMA cache_size = -65536");
        return connection;
    }

    /// <summary>BEGIN IMMEDIATE: the write lock is taken at the start, so a batch never fails half-way
    /// on a lock another connection holds.</summary>
    internal override DbTransaction BeginWriteTransaction(DbConnection connection) =>
        ((SqliteConnection)connection).BeginTransaction(deferred: false);

    internal override bool IsTransient(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked };

    internal override bool IsFatal(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: not SqliteConstraint } or ObjectDisposedException;

    private static FileStream AcquireLock(string lockPath)
    {
        try
        {
            return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"Another process has the SQLite database open ({lockPath} is locked). SQLite serves one scheduler " +
                "process per database file; give this one its own DATABASE_URL, or run a cluster on PostgreSQL.", ex);
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Opened SQLite database {Path} (synchronous={Synchronous})")]
    private static partial void LogOpened(ILogger logger, string path, string synchronous);
}
