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
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

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
        // A thread of its own: the writer is the store's one serial stage, so it should neither
        // wait for a pool thread nor hop between them (and profiles can name it).
        var thread = new Thread(RunLoop) { Name = "sqlite-writer", IsBackground = true };
        thread.Start();
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
        await _stopped.Task.ConfigureAwait(false);
        _connection.Dispose();
    }

    private void RunLoop()
    {
        var reader = _turns.Reader;
        var batch = new List<Turn>(_maxTurnsPerCommit);
        try
        {
            while (reader.TryPeek(out _) || reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (batch.Count < _maxTurnsPerCommit && reader.TryRead(out var turn))
                {
                    batch.Add(turn);
                }

                RunBatch(batch);
                batch.Clear();
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void RunBatch(List<Turn> batch)
    {
        var context = _context;
        try
        {
            // Optimistic first: no savepoints, because a savepoint makes SQLite copy every page a
            // turn touches into a sub-journal, which cost a sixth of the writer's time in a drain.
            // A turn that fails (rare: a conflict, a validation error) sends the whole batch round
            // again with a savepoint per turn; turns only read and write the database, so running
            // them twice is safe, and nothing of the first pass was committed or answered.
            if (!RunInTransaction(batch, isolateTurns: false))
            {
                RunInTransaction(batch, isolateTurns: true);
            }
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

    /// <summary>Runs the batch in one transaction and commits it. With <paramref name="isolateTurns"/>
    /// each turn has its own savepoint, and a turn that fails is undone and answered alone; without,
    /// the first failing turn rolls the whole transaction back and the answer is false.</summary>
    private bool RunInTransaction(List<Turn> batch, bool isolateTurns)
    {
        var context = _context;
        context.Reset();
        using var transaction = _connection.BeginTransaction(deferred: false);
        context.Transaction = transaction;
        context.Now = _timeProvider.GetUtcNow();
        foreach (var turn in batch)
        {
            if (isolateTurns)
            {
                context.Command(SqliteSql.Savepoint).ExecuteNonQuery();
            }

            try
            {
                turn.Run(context);
                if (isolateTurns)
                {
                    context.Command(SqliteSql.ReleaseSavepoint).ExecuteNonQuery();
                }

                context.KeepTurn();
            }
            catch (Exception ex) when (ex is not SqliteException || ex is SqliteException { SqliteErrorCode: SqliteConstraint })
            {
                // The turn's own failure (a validation error, a conflict): undo just this turn.
                // Any other SQLite error (I/O, disk full, busy) aborts the whole batch.
                if (!isolateTurns)
                {
                    transaction.Rollback();
                    return false;
                }

                context.Command(SqliteSql.RollbackToSavepoint).ExecuteNonQuery();
                context.Command(SqliteSql.ReleaseSavepoint).ExecuteNonQuery();
                context.DropTurn();
                turn.Fail(ex);
            }
        }

        context.FlushDeltas();
        transaction.Commit();
        return true;
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
