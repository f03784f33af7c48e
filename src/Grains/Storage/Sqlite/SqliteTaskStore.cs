using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansScheduler.Grains.Storage.Sqlite;

/// <summary>The SQLite engine: one writer connection with group commit for every turn, pooled
/// connections for reads (WAL lets them run beside the writer). SQLite serves one process per
/// database file; the store holds a lock file to make that a clear error instead of a silent risk,
/// which is also what lets it treat every RUNNING attempt it finds at start-up as orphaned.</summary>
public sealed partial class SqliteTaskStore : ITaskStore
{
    private readonly StorageOptions _options;
    private readonly SchedulerOptions _scheduler;
    private readonly TimeProvider _timeProvider;
    private readonly WorkSignal _signal;
    private readonly StoreEvents _events;
    private readonly ILogger<SqliteTaskStore> _logger;
    private readonly string _path;
    private readonly string _readConnectionString;
    private SqliteWriter? _writer;
    private FileStream? _lock;

    public SqliteTaskStore(
        IOptions<StorageOptions> options,
        IOptions<SchedulerOptions> scheduler,
        TimeProvider timeProvider,
        WorkSignal signal,
        ILogger<SqliteTaskStore> logger,
        StoreEvents? events = null)
    {
        _events = events ?? new StoreEvents();
        _options = options.Value;
        _options.Validate();
        _scheduler = scheduler.Value;
        _scheduler.Validate();
        _timeProvider = timeProvider;
        _signal = signal;
        _logger = logger;
        _path = Path.GetFullPath(PathFromUrl(_options.DatabaseUrl));
        _readConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string DatabasePath => _path;

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

        if (url.Contains('=', StringComparison.Ordinal))
        {
            return new SqliteConnectionStringBuilder(url).DataSource;
        }

        return url;
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_writer is not null)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _lock = AcquireLock(_path + ".lock");

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        connection.Open();
        Execute(connection, "PRAGMA journal_mode = WAL");
        Execute(connection, $"PRAGMA synchronous = {_options.Synchronous}");
        Execute(connection, "PRAGMA temp_store = MEMORY");
        Execute(connection, "PRAGMA cache_size = -65536");
        SqliteMigrator.Apply(connection, _logger);

        _writer = new SqliteWriter(connection, _timeProvider, _signal, _events, _options.MaxTurnsPerCommit, _logger);
        var recovered = await _writer.RunAsync(RecoverAndSizeSlots).WaitAsync(cancellationToken).ConfigureAwait(false);
        LogOpened(_logger, _path, _options.Synchronous, _scheduler.MaxConcurrentTasks, recovered);
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
        }

        if (_lock is not null)
        {
            await _lock.DisposeAsync().ConfigureAwait(false);
            _lock = null;
        }

        SqliteConnection.ClearAllPools();
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        if (_writer is null)
        {
            return false;
        }

        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false)) == 1;
    }

    private SqliteWriter Writer =>
        _writer ?? throw new InvalidOperationException("The store is not open: InitializeAsync has not run.");

    private async Task<SqliteConnection> OpenReadAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_readConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

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

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Opened SQLite store {Path} (synchronous={Synchronous}, slots={Slots}); recovered {Recovered} orphaned attempts")]
    private static partial void LogOpened(ILogger logger, string path, string synchronous, int slots, int recovered);
}
