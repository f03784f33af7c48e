using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace OrleansScheduler.Grains.Storage;

/// <summary>Group commit: every write waiting when a commit starts goes into the same transaction,
/// and each caller is answered once that transaction committed. One commit per batch instead of
/// one per write is what lets thousands of grains persist their state each second. Each writer
/// thread owns one connection and its prepared statements; SQLite has one writer, PostgreSQL may
/// have several.</summary>
/// <remarks>A batch first runs without savepoints (a savepoint made SQLite copy every page a write
/// touched into a sub-journal, a sixth of the writer's time in a drain). If a write fails (a stale
/// ETag, a conflict), the transaction is rolled back and the batch runs again with a savepoint per
/// write, so the failing write is undone alone and the others commit: writes only touch the
/// database, so running one twice is safe, and nothing of the first pass was committed or
/// answered. A failure of the database itself (I/O, a lost connection) is retried for a while with
/// the whole batch, then answered to every write in it.</remarks>
internal sealed partial class GroupCommitWriter : IAsyncDisposable
{
    private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = false });
    private readonly SchedulerDatabase _database;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly int _maxWritesPerCommit;
    private readonly TimeSpan _retryFor;
    private readonly Task[] _threads;

    public GroupCommitWriter(SchedulerDatabase database, int threads, int maxWritesPerCommit, TimeSpan retryFor, TimeProvider timeProvider, ILogger logger)
    {
        _database = database;
        _timeProvider = timeProvider;
        _logger = logger;
        _maxWritesPerCommit = maxWritesPerCommit;
        _retryFor = retryFor;
        _threads = new Task[threads];
        for (var i = 0; i < threads; i++)
        {
            // Threads of their own: the writer is the store's serial stage, so it should neither wait
            // for a pool thread nor hop between them (and profiles can name it).
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() => RunLoop(done)) { Name = $"{database.Engine}-writer-{i}", IsBackground = true };
            thread.Start();
            _threads[i] = done.Task;
        }
    }

    /// <summary>Runs <paramref name="body"/> in the next commit; completes once that committed.</summary>
    public Task<T> RunAsync<T>(Func<DbWrite, T> body)
    {
        var write = new Write<T>(body);
        if (!_writes.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(nameof(GroupCommitWriter), "The database is closed.");
        }

        return write.Completion;
    }

    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        await Task.WhenAll(_threads).ConfigureAwait(false);
    }

    private void RunLoop(TaskCompletionSource done)
    {
        var reader = _writes.Reader;
        var batch = new List<Write>(_maxWritesPerCommit);
        var context = new DbWrite(_database.Sql);
        DbConnection? connection = null;
        try
        {
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (batch.Count < _maxWritesPerCommit && reader.TryRead(out var write))
                {
                    batch.Add(write);
                }

                if (batch.Count > 0)
                {
                    connection = RunBatch(batch, context, connection);
                    batch.Clear();
                }
            }
        }
        finally
        {
            connection?.Dispose();
            done.TrySetResult();
        }
    }

    /// <summary>Commits <paramref name="batch"/>, answering each write; returns the connection to
    /// keep (a broken one is dropped and a new one opened next time).</summary>
    private DbConnection? RunBatch(List<Write> batch, DbWrite context, DbConnection? connection)
    {
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                connection ??= _database.OpenWriteConnection();
                if (!RunInTransaction(batch, context, connection, isolateWrites: false))
                {
                    RunInTransaction(batch, context, connection, isolateWrites: true);
                }

                break;
            }
            catch (Exception ex)
            {
                context.End();
                connection?.Dispose();
                connection = null;
                if (_database.IsTransient(ex))
                {
                    _database.ReportUnavailable();
                }

                if (_database.IsTransient(ex) && Stopwatch.GetElapsedTime(started) < _retryFor)
                {
                    LogRetrying(_logger, ex, batch.Count, attempt);
                    Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * attempt)));
                    continue;
                }

                // Nothing of the batch happened: tell every write.
                LogBatchFailed(_logger, ex, batch.Count);
                foreach (var write in batch)
                {
                    write.Fail(ex);
                }

                return connection;
            }
        }

        foreach (var write in batch)
        {
            write.Complete();
        }

        return connection;
    }

    /// <summary>Runs the batch in one transaction and commits it. With <paramref name="isolateWrites"/>
    /// each write has its own savepoint, and one that fails is undone and answered alone; without,
    /// the first failing write rolls the whole transaction back and the answer is false.</summary>
    private bool RunInTransaction(List<Write> batch, DbWrite context, DbConnection connection, bool isolateWrites)
    {
        using var transaction = _database.BeginWriteTransaction(connection);
        context.Begin(connection, transaction);
        foreach (var write in batch)
        {
            if (write.Failed)
            {
                continue;
            }

            if (isolateWrites)
            {
                transaction.Save("write");
            }

            try
            {
                write.Run(context);
                if (isolateWrites)
                {
                    transaction.Release("write");
                }

                context.KeepOp();
            }
            catch (Exception ex) when (!_database.IsTransient(ex) && !_database.IsFatal(ex))
            {
                // The write's own failure (a stale ETag, a conflict, a constraint): undo just it.
                context.DropOp();
                if (!isolateWrites)
                {
                    transaction.Rollback();
                    context.End();
                    return false;
                }

                transaction.Rollback("write");
                transaction.Release("write");
                write.Fail(ex);
            }
        }

        context.Flush(_timeProvider.GetUtcNow());
        transaction.Commit();
        context.End();
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A commit of {Writes} writes failed (try {Attempt}); retrying it")]
    private static partial void LogRetrying(ILogger logger, Exception exception, int writes, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "A commit of {Writes} writes failed; every write in it was rolled back")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int writes);

    private abstract class Write
    {
        public bool Failed { get; private set; }

        public abstract void Run(DbWrite context);

        public abstract void Complete();

        public void Fail(Exception exception)
        {
            Failed = true;
            SetException(exception);
        }

        protected abstract void SetException(Exception exception);
    }

    private sealed class Write<T>(Func<DbWrite, T> body) : Write
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Completion => _completion.Task;

        public override void Run(DbWrite context) => _result = body(context);

        public override void Complete()
        {
            if (!Failed)
            {
                _completion.TrySetResult(_result);
            }
        }

        protected override void SetException(Exception exception) => _completion.TrySetException(exception);
    }
}
