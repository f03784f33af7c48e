using Microsoft.Data.Sqlite;

namespace OrleansScheduler.Grains.Storage.Sqlite;

public sealed partial class SqliteTaskStore
{
    public async Task<TaskView?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = SqliteSql.TaskById;
        command.Parameters.AddWithValue("$id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var seq = reader.GetInt64(0);
        var status = TaskStatusNames.Parse(reader.GetString(3));
        var runAt = ToTime(reader.GetInt64OrNull(7));
        var dependencies = ReadDependencies(connection, seq);
        var blockedBy = status switch
        {
            TaskStatus.Waiting => BlockedByReasons.Dependencies(dependencies),
            TaskStatus.Scheduled => WaitingForReminder(connection, seq, runAt),
            TaskStatus.Queued => BlockedByReasons.Slots(ReadSlots(connection)),
            _ => null,
        };

        return new TaskView(
            Id: reader.GetString(1),
            Type: reader.GetString(2),
            Status: status,
            DurationMs: reader.GetInt64(5),
            Dependencies: dependencies.Select(d => d.Id).ToList(),
            Payload: ParseJson(reader.GetStringOrNull(6)),
            Priority: reader.GetInt32(4),
            RunAt: runAt,
            TimeoutMs: reader.GetInt64OrNull(8),
            Attempts: reader.GetInt32(9),
            MaxAttempts: reader.GetInt32(10),
            WorkerId: reader.GetStringOrNull(11),
            CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(12)),
            StartedAt: ToTime(reader.GetInt64OrNull(13)),
            CompletedAt: ToTime(reader.GetInt64OrNull(14)),
            Result: ParseJson(reader.GetStringOrNull(15)),
            Error: reader.GetStringOrNull(16),
            BlockedBy: blockedBy);
    }

    public async Task<IReadOnlyList<TaskEvent>?> GetEventsAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        long seq;
        await using (var find = connection.CreateCommand())
        {
            find.CommandText = SqliteSql.TaskSeqAndStatusById;
            find.Parameters.AddWithValue("$id", id);
            if (await find.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not long found)
            {
                return null;
            }

            seq = found;
        }

        await using var command = connection.CreateCommand();
        command.CommandText = SqliteSql.EventsOf;
        command.Parameters.AddWithValue("$seq", seq);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<TaskEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(new TaskEvent(
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)),
                reader.GetStringOrNull(1) is { } from ? TaskStatusNames.Parse(from) : null,
                TaskStatusNames.Parse(reader.GetString(2)),
                reader.GetStringOrNull(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4),
                reader.GetStringOrNull(5)));
        }

        return events;
    }

    public async Task<TaskPage> ListAsync(TaskQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var (sql, parameters) = TaskListing.Build(query, SqliteSql.SummaryColumns, '$');
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await TaskListing.ReadPageAsync(reader, query.Limit, static row => new TaskSummary(
            row.GetString(1),
            row.GetString(2),
            TaskStatusNames.Parse(row.GetString(3)),
            row.GetInt32(4),
            row.GetInt32(5),
            DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(6)),
            ToTime(row.IsDBNull(7) ? null : row.GetInt64(7)),
            ToTime(row.IsDBNull(8) ? null : row.GetInt64(8))), cancellationToken).ConfigureAwait(false);
    }

    public async Task<SchedulerStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        var now = _timeProvider.GetUtcNow();

        var counts = new Dictionary<TaskStatus, long>();
        long total = 0;
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = SqliteSql.Counts;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var count = reader.GetInt64(1);
                counts[TaskStatusNames.Parse(reader.GetString(0))] = count;
                total += count;
            }
        }

        var completedLastMinute = Scalar(connection, SqliteSql.CompletedSince, ("$since", (now - TimeSpan.FromMinutes(1)).ToUnixTimeSeconds()));
        var silosAlive = (int)Scalar(connection, SqliteSql.SilosAlive, ("$since", (now - _scheduler.SiloDeadAfter).ToUnixTimeMilliseconds()));

        var waits = new List<double>();
        var runs = new List<double>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = SqliteSql.RecentCompletions;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!reader.IsDBNull(0))
                {
                    waits.Add(reader.GetInt64(0));
                }

                if (!reader.IsDBNull(1))
                {
                    runs.Add(reader.GetInt64(1));
                }
            }
        }

        return new SchedulerStats(
            counts,
            total,
            ReadSlots(connection),
            silosAlive,
            new ThroughputView(completedLastMinute, Math.Round(completedLastMinute / 60.0, 2)),
            new LatencyView(runs.Count, BlockedByReasons.Percentile(waits, 0.50), BlockedByReasons.Percentile(waits, 0.99), BlockedByReasons.Percentile(runs, 0.50), BlockedByReasons.Percentile(runs, 0.99)));
    }

    public async Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        return ReadSlots(connection);
    }

    private static List<DependencyState> ReadDependencies(SqliteConnection connection, long seq)
    {
        using var command = connection.CreateCommand();
        command.CommandText = SqliteSql.DependenciesOf;
        command.Parameters.AddWithValue("$seq", seq);
        using var reader = command.ExecuteReader();
        var dependencies = new List<DependencyState>();
        while (reader.Read())
        {
            dependencies.Add(new DependencyState(reader.GetString(0), TaskStatusNames.Parse(reader.GetString(1))));
        }

        return dependencies;
    }

    private static BlockedBy WaitingForReminder(SqliteConnection connection, long seq, DateTimeOffset? runAt)
    {
        using var command = connection.CreateCommand();
        command.CommandText = SqliteSql.ReadyReminderOf;
        command.Parameters.AddWithValue("$seq", seq);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? BlockedByReasons.Reminder(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)), reader.GetStringOrNull(1))
            : BlockedByReasons.Reminder(runAt, null);
    }

    private static SlotsView ReadSlots(SqliteConnection connection)
    {
        var limit = (int)Scalar(connection, SqliteSql.SlotCount);
        using var command = connection.CreateCommand();
        command.CommandText = SqliteSql.SlotHolders;
        using var reader = command.ExecuteReader();
        var holders = new List<SlotHolder>();
        while (reader.Read())
        {
            holders.Add(new SlotHolder(reader.GetInt32(0), reader.GetString(1), reader.GetStringOrNull(2) ?? "",
                reader.IsDBNull(3) ? 0 : reader.GetInt32(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.IsDBNull(4) ? 0 : reader.GetInt64(4))));
        }

        return new SlotsView(limit, holders.Count, holders);
    }

    private static long Scalar(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static DateTimeOffset? ToTime(long? ms) => ms is { } value ? DateTimeOffset.FromUnixTimeMilliseconds(value) : null;
}
