using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace OrleansScheduler.Grains.Storage.Sqlite;

/// <summary>The single writer of a SQLite database, with group commit: turns queued while a commit
/// is under way are run together in the next transaction, each inside its own savepoint, so one
/// failing turn changes nothing while the others still commit. One commit per batch instead of
/// one per turn is what makes submissions and completions cheap.</summary>
internal sealed partial class SqliteWriter : IAsyncDisposable
{
    private readonly Channel<Turn> _turns = Channel.CreateUnbounded<Turn>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqliteConnection _connection;
    private readonly SqliteTurn _context;
    private readonly TimeProvider _timeProvider;
    private readonly WorkSignal _signal;
    private readonly StoreEvents _events;
    private readonly ILogger _logger;
    private readonly int _maxTurnsPerCommit;
    private readonly Task _loop;

    private const int SqliteConstraint = 19;

    public SqliteWriter(SqliteConnection connection, TimeProvider timeProvider, WorkSignal signal, StoreEvents events, int maxTurnsPerCommit, ILogger logger)
    {
        _events = events;
        _connection = connection;
        _timeProvider = timeProvider;
        _signal = signal;
        _logger = logger;
        _maxTurnsPerCommit = maxTurnsPerCommit;
        _context = new SqliteTurn(connection, []);
        _loop = Task.Factory.StartNew(RunLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Runs <paramref name="body"/> as one turn; completes once its batch is committed.</summary>
    public Task<T> RunAsync<T>(Func<SqliteTurn, T> body)
    {
        var turn = new Turn<T>(body);
        if (!_turns.Writer.TryWrite(turn))
        {
            throw new ObjectDisposedException(nameof(SqliteWriter), "The store is closed.");
        }

        return turn.Completion;
    }

    public async ValueTask DisposeAsync()
    {
        _turns.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        _connection.Dispose();
    }

    private async Task RunLoop()
    {
        var reader = _turns.Reader;
        var batch = new List<Turn>(_maxTurnsPerCommit);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < _maxTurnsPerCommit && reader.TryRead(out var turn))
            {
                batch.Add(turn);
            }

            RunBatch(batch);
            batch.Clear();
        }
    }

    private void RunBatch(List<Turn> batch)
    {
        var context = _context;
        context.Reset();
        try
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            context.Transaction = transaction;
            context.Now = _timeProvider.GetUtcNow();
            foreach (var turn in batch)
            {
                context.Command(SqliteSql.Savepoint).ExecuteNonQuery();
                try
                {
                    turn.Run(context);
                    context.Command(SqliteSql.ReleaseSavepoint).ExecuteNonQuery();
                    context.KeepTurn();
                }
                catch (Exception ex) when (ex is not SqliteException || ex is SqliteException { SqliteErrorCode: SqliteConstraint })
                {
                    // The turn's own failure (a validation error, a conflict): undo just this turn.
                    // Any other SQLite error (I/O, disk full, busy) aborts the whole batch below.
                    context.Command(SqliteSql.RollbackToSavepoint).ExecuteNonQuery();
                    context.Command(SqliteSql.ReleaseSavepoint).ExecuteNonQuery();
                    context.DropTurn();
                    turn.Fail(ex);
                }
            }

            context.FlushDeltas();
            transaction.Commit();
        }
        catch (Exception ex)
        {
            // The batch did not commit (disk full, I/O error): nothing of it happened, tell every turn.
            LogBatchFailed(_logger, ex, batch.Count);
            foreach (var turn in batch)
            {
                turn.Fail(ex);
            }

            return;
        }
        finally
        {
            context.Transaction = null!;
        }

        foreach (var turn in batch)
        {
            turn.Complete();
        }

        if (context.WorkAvailable)
        {
            _signal.Set();
        }

        if (context.RemindersChanged)
        {
            _events.RemindersChanged.Set();
        }

        if (context.CancelledRunning.Count > 0)
        {
            _events.RaiseCancelled(context.CancelledRunning);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A commit of {Turns} turns failed; every turn in it was rolled back")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int turns);

    private abstract class Turn
    {
        public abstract void Run(SqliteTurn context);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class Turn<T>(Func<SqliteTurn, T> body) : Turn
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        private Exception? _failure;

        public Task<T> Completion => _completion.Task;

        public override void Run(SqliteTurn context) => _result = body(context);

        public override void Complete()
        {
            if (_failure is null)
            {
                _completion.TrySetResult(_result);
            }
        }

        public override void Fail(Exception exception)
        {
            _failure = exception;
            _completion.TrySetException(exception);
        }
    }
}
