using System.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>The PostgreSQL engine: many silo processes share one database, so the database is the
/// only state that counts. Every turn is one READ COMMITTED transaction on a pooled connection;
/// the rows it decides on are locked, claims skip what other silos are claiming (FOR UPDATE SKIP
/// LOCKED), and a turn that loses a deadlock or a serialization check is run again from the start.
/// Time is the database's: each turn reads now() inside its transaction, so leases, heartbeats and
/// due times are judged by one clock whichever silo looks. A test clock (any TimeProvider other
/// than <see cref="TimeProvider.System"/>) replaces it, so timed behaviour can be tested without
/// waiting. Unlike SQLite, a RUNNING attempt found at start-up may belong to a live silo: lost
/// attempts are reclaimed only when their lease expires (<see cref="FireRemindersAsync"/>).</summary>
public sealed partial class PostgresTaskStore : ITaskStore
{
    private const int MaxTurnRuns = 20;

    private readonly SchedulerOptions _scheduler;
    private readonly TimeProvider _timeProvider;
    private readonly bool _databaseClock;
    private readonly WorkSignal _signal;
    private readonly StoreEvents _events;
    private readonly ILogger<PostgresTaskStore> _logger;
    private readonly string _connectionString;

    /// <summary>Names this store instance in its notifications, so its listener skips its own.</summary>
    private readonly string _origin = Guid.NewGuid().ToString("N");
    private long _prunedCompletionsBefore;
    private NpgsqlDataSource? _dataSource;
    private PostgresListener? _listener;

    public PostgresTaskStore(
        IOptions<StorageOptions> options,
        IOptions<SchedulerOptions> scheduler,
        TimeProvider timeProvider,
        WorkSignal signal,
        ILogger<PostgresTaskStore> logger,
        StoreEvents? events = null)
    {
        var storage = options.Value;
        storage.Validate();
        _scheduler = scheduler.Value;
        _scheduler.Validate();
        _timeProvider = timeProvider;
        _databaseClock = ReferenceEquals(timeProvider, TimeProvider.System);
        _signal = signal;
        _events = events ?? new StoreEvents();
        _logger = logger;
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnectionStrings.ToConnectionString(storage.DatabaseUrl));
        if (builder.MaxAutoPrepare == 0)
        {
            // Turns run the same few statements over and over: let Npgsql keep them prepared.
            builder.MaxAutoPrepare = 64;
        }

        // A silo frozen inside a turn (SIGSTOP, a VM pause, a cut that keeps the TCP session) would
        // hold that turn's row locks, and with them its slots, for as long as it stays frozen: the
        // server ends such a session after a lease (at least 5 s, so a busy machine's pauses
        // between a turn's statements are not mistaken for it), and the others then reclaim its
        // attempts. Turns never sit idle in a transaction on purpose.
        var idleLimit = (long)Math.Max(5000, _scheduler.LeaseDuration.TotalMilliseconds);
        builder.Options = $"{builder.Options} -c idle_in_transaction_session_timeout={idleLimit}".Trim();
        _connectionString = builder.ConnectionString;
    }

    internal PostgresListener? Listener => _listener;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_dataSource is not null)
        {
            return;
        }

        var dataSource = NpgsqlDataSource.Create(_connectionString);
        var opened = false;
        try
        {
            await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
            {
                await PostgresMigrator.ApplyAsync(connection, _logger, cancellationToken).ConfigureAwait(false);
            }

            _dataSource = dataSource;
            await RunAsync(SizeSlotsAsync, cancellationToken).ConfigureAwait(false);
            _listener = new PostgresListener(_connectionString, _origin, _signal, _events, _timeProvider, _logger);
            await _listener.StartAsync(cancellationToken).ConfigureAwait(false);
            opened = true;
        }
        finally
        {
            if (!opened)
            {
                // A failed start leaves nothing open behind it; the caller sees the exception.
                await DisposeAsync().ConfigureAwait(false);
                await dataSource.DisposeAsync().ConfigureAwait(false);
            }
        }

        LogOpened(_logger, new NpgsqlConnectionStringBuilder(_connectionString) { Password = null }.ConnectionString, _scheduler.MaxConcurrentTasks);
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
            _listener = null;
        }

        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
            _dataSource = null;
        }
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        if (_dataSource is null)
        {
            return false;
        }

        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }

    private NpgsqlDataSource DataSource =>
        _dataSource ?? throw new InvalidOperationException("The store is not open: InitializeAsync has not run.");

    private ValueTask<NpgsqlConnection> OpenReadAsync(CancellationToken cancellationToken) =>
        DataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>The clock reads use: the database's now(), or the test clock.</summary>
    private async Task<DateTimeOffset> ReadClockAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        if (!_databaseClock)
        {
            return _timeProvider.GetUtcNow();
        }

        await using var command = new NpgsqlCommand(PostgresSql.Now, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.GetTime(0);
    }

    /// <summary>Once a second at most, a turn also drops the completion counts older than an hour
    /// (they only serve "completed in the last minute").</summary>
    private long? PruneCompletionsDue(DateTimeOffset now)
    {
        var before = now.ToUnixTimeSeconds() - 3600;
        var last = Interlocked.Read(ref _prunedCompletionsBefore);
        return before > last && Interlocked.CompareExchange(ref _prunedCompletionsBefore, before, last) == last ? before : null;
    }

    /// <summary>Runs <paramref name="body"/> as one turn: one transaction, committed whole or not
    /// at all. A deadlock or serialization failure rolls it back and runs it again, on fresh state,
    /// after a short random pause. The wake-ups it owes are sent once it has committed: NOTIFY for
    /// other processes (delivered by the commit itself), in-process signals here.</summary>
    private async Task<T> RunAsync<T>(Func<PostgresTurn, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        for (var run = 1; ; run++)
        {
            PostgresTurn turn;
            T result;
            var committing = false;
            try
            {
                await using var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
                turn = new PostgresTurn(connection, transaction)
                {
                    Now = await ReadClockAsync(connection, transaction, cancellationToken).ConfigureAwait(false),
                };
                turn.PruneCompletionsBefore = PruneCompletionsDue(turn.Now);
                result = await body(turn, cancellationToken).ConfigureAwait(false);
                await turn.FlushAsync(_origin, cancellationToken).ConfigureAwait(false);
                // Not cancellable: once the commit is sent, its outcome is what the caller must learn.
                committing = true;
                await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected && run < MaxTurnRuns)
            {
                LogTurnRetried(_logger, ex.SqlState, run);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 10 * run)), _timeProvider, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (NpgsqlException ex) when (ex.IsTransient && !committing && run < MaxTurnRuns)
            {
                // A pooled connection broken by a server restart or a network cut: the transaction
                // never committed (the server rolls back what a lost connection left open), so the
                // turn runs again on a fresh connection. A failure during the commit itself is
                // not retried: whether it committed is unknown, and the caller must be told.
                LogTurnRetried(_logger, ex.SqlState ?? ex.GetType().Name, run);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * run)), _timeProvider, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (turn.WorkAvailable)
            {
                _signal.Set();
            }

            if (turn.RemindersChanged)
            {
                _events.RemindersChanged.Set();
            }

            if (turn.CancelledRunning.Count > 0)
            {
                _events.RaiseCancelled(turn.CancelledRunning);
            }

            return result;
        }
    }

    private Task<int> SizeSlotsAsync(PostgresTurn turn, CancellationToken cancellationToken) =>
        ResizeSlotsAsync(turn, addMissing: true, cancellationToken);

    /// <summary>Removes free slots above this silo's limit and, at start-up, adds the missing ones
    /// up to it. A held slot is never touched: its attempt keeps it until it ends.</summary>
    private async Task<int> ResizeSlotsAsync(PostgresTurn turn, bool addMissing, CancellationToken cancellationToken)
    {
        var limit = _scheduler.MaxConcurrentTasks;
        var removed = await turn.Command(PostgresSql.ResizeSlotsDown).Bind("limit", limit).ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (addMissing)
        {
            await turn.Command(PostgresSql.AddSlots).Bind("limit", limit).ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            turn.WorkAvailable = true;
        }

        return removed;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Opened PostgreSQL store {ConnectionString} (slots={Slots})")]
    private static partial void LogOpened(ILogger logger, string connectionString, int slots);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A turn lost a conflict (SQLSTATE {SqlState}) on run {Run}; running it again")]
    private static partial void LogTurnRetried(ILogger logger, string sqlState, int run);
}
