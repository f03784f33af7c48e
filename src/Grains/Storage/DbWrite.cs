using System.Data.Common;

namespace OrleansScheduler.Grains.Storage;

/// <summary>What one write sees inside a group commit: the writer's connection and transaction,
/// its prepared statements by name, and the counters it changes. Counter changes are summed over
/// the batch and written once before the commit (two rows per status instead of two per write);
/// a write that fails takes its counter changes with it.</summary>
public sealed class DbWrite
{
    private readonly SqlStatements _sql;
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private readonly Dictionary<TaskStatus, long> _opCounts = [];
    private readonly Dictionary<TaskStatus, long> _batchCounts = [];
    private readonly Dictionary<long, long> _opCompletions = [];
    private readonly Dictionary<long, long> _batchCompletions = [];
    private readonly Dictionary<long, long> _opFailures = [];
    private readonly Dictionary<long, long> _batchFailures = [];
    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private long _lastPruned;

    internal DbWrite(SqlStatements sql) => _sql = sql;

    /// <summary>The statement <paramref name="name"/> of queries.sql, prepared once per connection;
    /// bind its parameters and run it.</summary>
    public DbCommand Command(string name)
    {
        if (!_commands.TryGetValue(name, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = _sql[name];
            _commands[name] = command;
        }

        command.Transaction = _transaction;
        return command;
    }

    /// <summary>A task left <paramref name="from"/> (null: it is new) for <paramref name="to"/>.</summary>
    public void Move(TaskStatus? from, TaskStatus to)
    {
        if (from == to)
        {
            return;
        }

        if (from is { } old)
        {
            _opCounts[old] = _opCounts.GetValueOrDefault(old) - 1;
        }

        _opCounts[to] = _opCounts.GetValueOrDefault(to) + 1;
    }

    /// <summary>A task COMPLETED at <paramref name="at"/>: counted in its second for /api/stats.</summary>
    public void CountCompletion(DateTimeOffset at)
    {
        var second = at.ToUnixTimeSeconds();
        _opCompletions[second] = _opCompletions.GetValueOrDefault(second) + 1;
    }

    /// <summary>A task ended FAILED at <paramref name="at"/>: counted in its second for the
    /// dashboard's throughput chart.</summary>
    public void CountFailure(DateTimeOffset at)
    {
        var second = at.ToUnixTimeSeconds();
        _opFailures[second] = _opFailures.GetValueOrDefault(second) + 1;
    }

    private DbConnection Connection => _connection ?? throw new InvalidOperationException("No write is under way.");

    internal void Begin(DbConnection connection, DbTransaction transaction)
    {
        if (!ReferenceEquals(connection, _connection))
        {
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }

            _commands.Clear();
            _connection = connection;
        }

        _transaction = transaction;
        _opCounts.Clear();
        _batchCounts.Clear();
        _opCompletions.Clear();
        _batchCompletions.Clear();
        _opFailures.Clear();
        _batchFailures.Clear();
    }

    /// <summary>The write succeeded: its counter changes join the batch's.</summary>
    internal void KeepOp()
    {
        Merge(_opCounts, _batchCounts);
        Merge(_opCompletions, _batchCompletions);
        Merge(_opFailures, _batchFailures);
    }

    /// <summary>The write failed and was undone: so are its counter changes.</summary>
    internal void DropOp()
    {
        _opCounts.Clear();
        _opCompletions.Clear();
        _opFailures.Clear();
    }

    /// <summary>Writes the batch's counters, just before its commit; completions and failures older
    /// than an hour are pruned at most once a minute.</summary>
    internal void Flush(DateTimeOffset now)
    {
        // In status order: two PostgreSQL writers updating the counter shards in different orders
        // deadlocked (40P01) under the bench's 3-silo drain.
        foreach (var (status, delta) in _batchCounts.OrderBy(c => c.Key))
        {
            if (delta != 0)
            {
                Command("AddToCount").Bind("@status", status.ToName()).Bind("@delta", delta).ExecuteNonQuery();
            }
        }

        foreach (var (second, count) in _batchCompletions.OrderBy(c => c.Key))
        {
            Command("AddCompletions").Bind("@second", second).Bind("@count", count).ExecuteNonQuery();
        }

        foreach (var (second, count) in _batchFailures.OrderBy(c => c.Key))
        {
            Command("AddFailures").Bind("@second", second).Bind("@count", count).ExecuteNonQuery();
        }

        var minute = now.ToUnixTimeSeconds() / 60;
        if ((_batchCompletions.Count > 0 || _batchFailures.Count > 0) && minute != _lastPruned)
        {
            _lastPruned = minute;
            Command("PruneCompletions").Bind("@before", now.ToUnixTimeSeconds() - 3600).ExecuteNonQuery();
            Command("PruneFailures").Bind("@before", now.ToUnixTimeSeconds() - 3600).ExecuteNonQuery();
        }
    }

    internal void End() => _transaction = null;

    private static void Merge<TKey>(Dictionary<TKey, long> op, Dictionary<TKey, long> batch)
        where TKey : notnull
    {
        foreach (var (key, value) in op)
        {
            batch[key] = batch.GetValueOrDefault(key) + value;
        }

        op.Clear();
    }
}
