using System.Collections.Concurrent;
using System.Data.Common;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The database the grains keep their state in, which is also the read model of lists,
/// counters, events and the dashboard: a SQLite file (one process) or a PostgreSQL database (a
/// cluster of silos). What differs between the two is here and in sql/&lt;engine&gt;/; the grain
/// storage, the read model and the reminder table are one logic over <see cref="Sql"/>.</summary>
public abstract class SchedulerDatabase : IAsyncDisposable
{
    private readonly ConcurrentBag<DbRead> _sessions = [];
    private GroupCommitWriter? _writer;
    private int _unavailable;

    protected SchedulerDatabase(string engine)
    {
        Engine = engine;
        Sql = SqlStatements.Load(engine);
    }

    /// <summary>"sqlite" or "postgresql": the folder of sql/ its statements come from.</summary>
    public string Engine { get; }

    public SqlStatements Sql { get; }

    /// <summary>Where it is, for logs and errors (a file path, or host and database).</summary>
    public abstract string Description { get; }

    /// <summary>Applies the migrations and starts the writer. Called once, before the silo starts.</summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        if (_writer is not null)
        {
            return;
        }

        await MigrateAsync(cancellationToken).ConfigureAwait(false);
        _writer = CreateWriter();
    }

    /// <summary>Runs <paramref name="write"/> in the next group commit; completes once it committed,
    /// or with the write's own exception (it changed nothing).</summary>
    public Task<T> WriteAsync<T>(Func<DbWrite, T> write) =>
        (_writer ?? throw new InvalidOperationException($"The {Engine} database is not open yet.")).RunAsync(write);

    /// <summary>An open connection for reads (pooled); dispose it when done.</summary>
    public abstract Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken = default);

    /// <summary>Most idle read sessions kept open; more may be open while readers overlap.</summary>
    protected abstract int IdleReadSessions { get; }

    /// <summary>Runs the statement <paramref name="statement"/> of queries.sql, bound by
    /// <paramref name="bind"/>, on a read session, and hands each row to <paramref name="row"/>.</summary>
    public Task ReadRowsAsync(string statement, Action<DbCommand> bind, Action<DbDataReader> row)
    {
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentNullException.ThrowIfNull(row);
        return ReadAsync(async session =>
        {
            var command = session.Command(statement);
            bind(command);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                row(reader);
            }

            return true;
        });
    }

    /// <summary>Runs <paramref name="read"/> on a read session of its own (an open connection with
    /// its statements prepared). A session whose read failed is closed, not reused.</summary>
    public async Task<T> ReadAsync<T>(Func<DbRead, Task<T>> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        if (!_sessions.TryTake(out var session))
        {
            session = new DbRead(Sql, await OpenReadAsync().ConfigureAwait(false));
        }

        T result;
        try
        {
            result = await read(session).ConfigureAwait(false);
        }
        catch (Exception)
        {
            session.Dispose();
            throw;
        }

        if (_sessions.Count < IdleReadSessions)
        {
            _sessions.Add(session);
        }
        else
        {
            session.Dispose();
        }

        return result;
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        if (_writer is null)
        {
            return false;
        }

        return await ReadAsync(async session => Convert.ToInt64(
            await session.Command("Ping").ExecuteScalarAsync(cancellationToken).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture) == 1).ConfigureAwait(false);
    }

    /// <summary>Raised once per outage, when a read or a write first finds the database out of reach;
    /// whoever handles it calls <see cref="ReportAvailable"/> once the database answers again.</summary>
    internal event Action? WentUnavailable;

    /// <summary>A read or write found the database out of reach (StoreFailures, the group commit).</summary>
    internal void ReportUnavailable()
    {
        if (Interlocked.Exchange(ref _unavailable, 1) == 0)
        {
            WentUnavailable?.Invoke();
        }
    }

    /// <summary>The database answers again; the next failure starts a new outage.</summary>
    internal void ReportAvailable() => Interlocked.Exchange(ref _unavailable, 0);

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
        }

        while (_sessions.TryTake(out var session))
        {
            session.Dispose();
        }

        await CloseAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    protected abstract Task MigrateAsync(CancellationToken cancellationToken);

    private protected abstract GroupCommitWriter CreateWriter();

    protected virtual ValueTask CloseAsync() => ValueTask.CompletedTask;

    /// <summary>A connection for one writer thread, open; it lives as long as it works.</summary>
    internal abstract DbConnection OpenWriteConnection();

    internal abstract DbTransaction BeginWriteTransaction(DbConnection connection);

    /// <summary>The database is unreachable or busy for now: the batch is tried again.</summary>
    internal abstract bool IsTransient(Exception exception);

    /// <summary>The database failed in a way no write caused (I/O, disk full): the batch fails whole.</summary>
    internal abstract bool IsFatal(Exception exception);
}
