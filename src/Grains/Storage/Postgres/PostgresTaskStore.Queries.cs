using System.Globalization;
using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>Reads: plain statements on a pooled connection, outside any turn.</summary>
public sealed partial class PostgresTaskStore
{
    public async Task<TaskView?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(PostgresSql.TaskById, connection).Bind("id", id);
        long seq;
        TaskStatus status;
        DateTimeOffset? runAt;
        Func<List<DependencyState>, BlockedBy?, TaskView> view;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            seq = reader.GetInt64(0);
            status = TaskStatusNames.Parse(reader.GetString(3));
            runAt = reader.GetTimeOrNull(7);
            var (taskId, type, durationMs, payload, priority) = (reader.GetString(1), reader.GetString(2), reader.GetInt64(5), reader.GetStringOrNull(6), reader.GetInt32(4));
            var (timeoutMs, attempts, maxAttempts, workerId) = (reader.GetInt64OrNull(8), reader.GetInt32(9), reader.GetInt32(10), reader.GetStringOrNull(11));
            var (createdAt, startedAt, completedAt) = (reader.GetTime(12), reader.GetTimeOrNull(13), reader.GetTimeOrNull(14));
            var (result, error) = (reader.GetStringOrNull(15), reader.GetStringOrNull(16));
            var taskStatus = status;
            var taskRunAt = runAt;
            view = (dependencies, blockedBy) => new TaskView(
                Id: taskId,
                Type: type,
                Status: taskStatus,
                DurationMs: durationMs,
                Dependencies: dependencies.Select(d => d.Id).ToList(),
                Payload: ParseJson(payload),
                Priority: priority,
                RunAt: taskRunAt,
                TimeoutMs: timeoutMs,
                Attempts: attempts,
                MaxAttempts: maxAttempts,
                WorkerId: workerId,
                CreatedAt: createdAt,
                StartedAt: startedAt,
                CompletedAt: completedAt,
                Result: ParseJson(result),
                Error: error,
                BlockedBy: blockedBy);
        }

        var dependencies = await ReadDependenciesAsync(connection, seq, cancellationToken).ConfigureAwait(false);
        var blockedBy = status switch
        {
            TaskStatus.Waiting => BlockedByReasons.Dependencies(dependencies),
            TaskStatus.Scheduled => await WaitingForReminderAsync(connection, seq, runAt, cancellationToken).ConfigureAwait(false),
            TaskStatus.Queued => BlockedByReasons.Slots(await ReadSlotsAsync(connection, cancellationToken).ConfigureAwait(false)),
            _ => null,
        };
        return view(dependencies, blockedBy);
    }

    public async Task<IReadOnlyList<TaskEvent>?> GetEventsAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        long seq;
        await using (var find = new NpgsqlCommand(PostgresSql.TaskSeqById, connection).Bind("id", id))
        {
            if (await find.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not long found)
            {
                return null;
            }

            seq = found;
        }

        await using var command = new NpgsqlCommand(PostgresSql.EventsOf, connection).Bind("seq", seq);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<TaskEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(new TaskEvent(
                reader.GetTime(0),
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
        var (sql, parameters) = TaskListing.Build(query, PostgresSql.SummaryColumns, '@');
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name[1..], value);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await TaskListing.ReadPageAsync(reader, query.Limit, static row => new TaskSummary(
            row.GetString(1),
            row.GetString(2),
            TaskStatusNames.Parse(row.GetString(3)),
            row.GetInt32(4),
            row.GetInt32(5),
            row.GetFieldValue<DateTimeOffset>(6),
            row.IsDBNull(7) ? null : row.GetFieldValue<DateTimeOffset>(7),
            row.IsDBNull(8) ? null : row.GetFieldValue<DateTimeOffset>(8)), cancellationToken).ConfigureAwait(false);
    }

    public async Task<SchedulerStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        // One snapshot for every figure, so the counters, the slots and the rows agree.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var now = await ReadClockAsync(connection, transaction, cancellationToken).ConfigureAwait(false);

        var counts = Enum.GetValues<TaskStatus>().ToDictionary(s => s, _ => 0L);
        long total = 0;
        await using (var command = new NpgsqlCommand(PostgresSql.Counts, connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var count = reader.GetInt64(1);
                counts[TaskStatusNames.Parse(reader.GetString(0))] = count;
                total += count;
            }
        }

        var completedLastMinute = await ScalarAsync(connection, transaction, PostgresSql.CompletedSince, cancellationToken, ("since", (now - TimeSpan.FromMinutes(1)).ToUnixTimeSeconds())).ConfigureAwait(false);
        var silosAlive = (int)await ScalarAsync(connection, transaction, PostgresSql.SilosAlive, cancellationToken, ("since", now - _scheduler.SiloDeadAfter)).ConfigureAwait(false);

        var waits = new List<double>();
        var runs = new List<double>();
        await using (var command = new NpgsqlCommand(PostgresSql.RecentCompletions, connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!reader.IsDBNull(0))
                {
                    waits.Add(Math.Round(reader.GetDouble(0)));
                }

                if (!reader.IsDBNull(1))
                {
                    runs.Add(Math.Round(reader.GetDouble(1)));
                }
            }
        }

        var slots = await ReadSlotsAsync(connection, cancellationToken, transaction).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new SchedulerStats(
            counts,
            total,
            slots,
            silosAlive,
            new ThroughputView(completedLastMinute, Math.Round(completedLastMinute / 60.0, 2)),
            new LatencyView(runs.Count, BlockedByReasons.Percentile(waits, 0.50), BlockedByReasons.Percentile(waits, 0.99), BlockedByReasons.Percentile(runs, 0.50), BlockedByReasons.Percentile(runs, 0.99)));
    }

    public async Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        return await ReadSlotsAsync(connection, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<DependencyState>> ReadDependenciesAsync(NpgsqlConnection connection, long seq, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(PostgresSql.DependenciesOf, connection).Bind("seq", seq);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var dependencies = new List<DependencyState>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            dependencies.Add(new DependencyState(reader.GetString(0), TaskStatusNames.Parse(reader.GetString(1))));
        }

        return dependencies;
    }

    private static async Task<BlockedBy> WaitingForReminderAsync(NpgsqlConnection connection, long seq, DateTimeOffset? runAt, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(PostgresSql.ReadyReminderOf, connection).Bind("seq", seq);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? BlockedByReasons.Reminder(reader.GetTime(0), reader.GetStringOrNull(1))
            : BlockedByReasons.Reminder(runAt, null);
    }

    private static async Task<SlotsView> ReadSlotsAsync(NpgsqlConnection connection, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        var limit = (int)await ScalarAsync(connection, transaction, PostgresSql.SlotCount, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(PostgresSql.SlotHolders, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var holders = new List<SlotHolder>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            holders.Add(new SlotHolder(reader.GetInt32(0), reader.GetString(1), reader.GetStringOrNull(2) ?? "",
                reader.IsDBNull(3) ? 0 : reader.GetInt32(3), reader.IsDBNull(4) ? DateTimeOffset.UnixEpoch : reader.GetTime(4)));
        }

        return new SlotsView(limit, holders.Count, holders);
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Bind(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }
}
