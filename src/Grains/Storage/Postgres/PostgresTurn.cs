using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>What a turn sees: its own transaction, the turn's clock reading, the status counter
/// deltas it makes and the wake-ups its commit owes the silos. A turn that is retried (deadlock,
/// serialization failure) starts again on a fresh <see cref="PostgresTurn"/>.</summary>
internal sealed class PostgresTurn(NpgsqlConnection connection, NpgsqlTransaction transaction)
{
    private readonly long[] _deltas = new long[TaskStatusNames.All.Count];
    private long _completions;

    /// <summary>The turn's clock: the database's clock_timestamp() (or a test clock), read in this
    /// transaction; a claim reads it again once its rows are locked.</summary>
    public DateTimeOffset Now { get; set; }

    /// <summary>Set when the commit may have made work available (a task QUEUED, a slot freed).</summary>
    public bool WorkAvailable { get; set; }

    /// <summary>Set when the turn added reminders, so reminder services look again.</summary>
    public bool RemindersChanged { get; set; }

    /// <summary>RUNNING tasks this turn cancelled, whose handlers must be stopped after commit.</summary>
    public List<string> CancelledRunning { get; } = [];

    public NpgsqlCommand Command(string sql) => new(sql, connection, transaction);

    public NpgsqlConnection Connection => connection;

    public NpgsqlTransaction Transaction => transaction;

    public void Count(TaskStatus status, long delta) => _deltas[(int)status] += delta;

    /// <summary>Attempts this turn ended COMPLETED, for the per-second completion counts.</summary>
    public void CountCompletions(long count) => _completions += count;

    /// <summary>When set, the flush also drops the completion counts of seconds before this one.</summary>
    public long? PruneCompletionsBefore { get; set; }

    public void Move(TaskStatus from, TaskStatus to)
    {
        _deltas[(int)from]--;
        _deltas[(int)to]++;
    }

    /// <summary>Writes the counter deltas and the completions of this second, and queues the
    /// notifications, in one round trip, as the turn's last statements: PostgreSQL delivers a NOTIFY
    /// only when its transaction commits.</summary>
    public async Task FlushAsync(string origin, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        for (var i = 0; i < _deltas.Length; i++)
        {
            if (_deltas[i] != 0)
            {
                var command = new NpgsqlBatchCommand(PostgresSql.AddToCount);
                command.Parameters.AddWithValue("delta", _deltas[i]);
                command.Parameters.AddWithValue("status", ((TaskStatus)i).ToName());
                batch.BatchCommands.Add(command);
            }
        }

        if (_completions > 0)
        {
            var command = new NpgsqlBatchCommand(PostgresSql.AddCompletions);
            command.Parameters.AddWithValue("second", Now.ToUnixTimeSeconds());
            command.Parameters.AddWithValue("count", _completions);
            batch.BatchCommands.Add(command);
            if (PruneCompletionsBefore is { } before)
            {
                var prune = new NpgsqlBatchCommand(PostgresSql.PruneCompletions);
                prune.Parameters.AddWithValue("before", before);
                batch.BatchCommands.Add(prune);
            }
        }

        if (WorkAvailable)
        {
            batch.BatchCommands.Add(Notify(PostgresListener.WorkChannel, origin));
        }

        if (RemindersChanged)
        {
            batch.BatchCommands.Add(Notify(PostgresListener.RemindersChannel, origin));
        }

        foreach (var id in CancelledRunning)
        {
            batch.BatchCommands.Add(Notify(PostgresListener.CancelledChannel, origin + ":" + id));
        }

        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static NpgsqlBatchCommand Notify(string channel, string payload)
    {
        var command = new NpgsqlBatchCommand(PostgresSql.Notify);
        command.Parameters.AddWithValue("channel", channel);
        command.Parameters.AddWithValue("payload", payload);
        return command;
    }
}
