using System.Data.Common;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The read side: lists, counters, events, dependency statuses and what recovery looks
/// for, read from the tables grain storage writes, never by activating a grain per row. Every
/// statement is named in sql/&lt;engine&gt;/queries.sql.</summary>
public sealed class TaskReadModel(SchedulerDatabase database, TimeProvider timeProvider)
{
    public SchedulerDatabase Database => database;

    public async Task<IReadOnlyList<TaskEvent>> EventsAsync(long seq)
    {
        var events = new List<TaskEvent>();
        await ReadAsync("EventsOf", command => command.Bind("@seq", seq), reader => events.Add(new TaskEvent(
            reader.GetTime(0),
            reader.GetStringOrNull(1) is { } from ? TaskStatusNames.Parse(from) : null,
            TaskStatusNames.Parse(reader.GetString(2)),
            reader.GetStringOrNull(3),
            reader.IsDBNull(4) ? null : reader.GetInt32(4),
            reader.GetStringOrNull(5)))).ConfigureAwait(false);
        return events;
    }

    /// <summary>A task's dependencies with their statuses now, in submission order.</summary>
    public async Task<IReadOnlyList<DependencyState>> DependenciesAsync(long seq) =>
        (await DependenciesWithCausesAsync(seq).ConfigureAwait(false)).Select(d => new DependencyState(d.Id, d.Status)).ToList();

    /// <summary>A task's dependencies with their statuses now and, for one UPSTREAM_FAILED, the
    /// root of its failure.</summary>
    internal async Task<IReadOnlyList<(string Id, TaskStatus Status, string? CauseId, TaskStatus? CauseStatus)>> DependenciesWithCausesAsync(long seq)
    {
        var dependencies = new List<(string, TaskStatus, string?, TaskStatus?)>();
        await ReadAsync("DependenciesOf", command => command.Bind("@seq", seq), reader => dependencies.Add((
            reader.GetString(0),
            TaskStatusNames.Parse(reader.GetString(1)),
            reader.GetStringOrNull(2),
            reader.GetStringOrNull(3) is { } cause ? TaskStatusNames.Parse(cause) : null))).ConfigureAwait(false);
        return dependencies;
    }

    public async Task<(long Seq, TaskStatus Status)?> FindAsync(string id)
    {
        (long, TaskStatus)? found = null;
        await ReadAsync("TaskSeqAndStatusById", command => command.Bind("@id", id),
            reader => found = (reader.GetInt64(0), TaskStatusNames.Parse(reader.GetString(1)))).ConfigureAwait(false);
        return found;
    }

    public async Task<TaskPage> ListAsync(TaskQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (sql, parameters) = TaskListing.Build(query, database.Sql["SummaryColumns"], '@');
        return await database.ReadAsync(async session =>
        {
            await using var command = session.Connection.CreateCommand();
            command.CommandText = sql;
            foreach (var (name, value) in parameters)
            {
                command.Bind(name, value);
            }

            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            return await TaskListing.ReadPageAsync(reader, query.Limit, static row => new TaskSummary(
                row.GetString(1),
                row.GetString(2),
                TaskStatusNames.Parse(row.GetString(3)),
                row.GetInt32(4),
                row.GetInt32(5),
                row.GetTime(6),
                row.GetTimeOrNull(7),
                row.GetTimeOrNull(8)) { WorkerId = row.GetStringOrNull(9) }, CancellationToken.None).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>Counts by status (maintained counters), completions in the last minute (per-second
    /// counters) and latency over the latest 1,000 completions: the cost does not grow with the
    /// number of tasks.</summary>
    public async Task<(IReadOnlyDictionary<TaskStatus, long> Counts, long Total, ThroughputView Throughput, LatencyView Latency)> StatsAsync()
    {
        var counts = TaskStatusNames.All.ToDictionary(TaskStatusNames.Parse, _ => 0L);
        long total = 0;
        await ReadAsync("Counts", _ => { }, reader =>
        {
            var count = reader.GetInt64(1);
            counts[TaskStatusNames.Parse(reader.GetString(0))] = count;
            total += count;
        }).ConfigureAwait(false);

        long completedLastMinute = 0;
        var since = (timeProvider.GetUtcNow() - TimeSpan.FromMinutes(1)).ToUnixTimeSeconds();
        await ReadAsync("CompletedSince", command => command.Bind("@since", since), reader => completedLastMinute = reader.GetInt64(0)).ConfigureAwait(false);

        var waits = new List<double>();
        var runs = new List<double>();
        await ReadAsync("RecentCompletions", _ => { }, reader =>
        {
            if (!reader.IsDBNull(0))
            {
                waits.Add(reader.GetInt64(0));
            }

            if (!reader.IsDBNull(1))
            {
                runs.Add(reader.GetInt64(1));
            }
        }).ConfigureAwait(false);

        return (counts, total,
            new ThroughputView(completedLastMinute, Math.Round(completedLastMinute / 60.0, 2)),
            new LatencyView(runs.Count, BlockedByReasons.Percentile(waits, 0.50), BlockedByReasons.Percentile(waits, 0.99),
                BlockedByReasons.Percentile(runs, 0.50), BlockedByReasons.Percentile(runs, 0.99)));
    }

    /// <summary>Ready tasks for the ConcurrencyGrain, highest priority first, then oldest.</summary>
    public async Task<List<SlotAsk>> ReadyTasksAsync(int max)
    {
        var ready = new List<SlotAsk>(max);
        await ReadAsync("ReadyTasks", command => command.Bind("@max", max),
            reader => ready.Add(new SlotAsk(reader.GetString(0), reader.GetInt32(1), reader.GetInt64(2)))).ConfigureAwait(false);
        return ready;
    }

    /// <summary>Ready tasks of the worker queue whose type is one of <paramref name="types"/>,
    /// highest priority first, then oldest, with their type: one indexed read per type (each in
    /// the index's order, so nothing is sorted but what they return), merged.</summary>
    public async Task<List<(SlotAsk Task, string Type)>> WorkerReadyTasksAsync(IReadOnlyList<string> types, int max)
    {
        var ready = new List<(SlotAsk Task, string Type)>();
        foreach (var type in types)
        {
            await ReadAsync("WorkerReadyTasks", command => command.Bind("@type", type).Bind("@max", max),
                reader => ready.Add((new SlotAsk(reader.GetString(0), reader.GetInt32(1), reader.GetInt64(2)), reader.GetString(3)))).ConfigureAwait(false);
        }

        return types.Count == 1 ? ready : ready.OrderByDescending(r => r.Task.Priority).ThenBy(r => r.Task.Seq).Take(max).ToList();
    }

    /// <summary>SCHEDULED tasks due by <paramref name="until"/>, soonest first.</summary>
    public Task<List<string>> DueScheduledAsync(DateTimeOffset until, int max) =>
        IdsAsync("DueScheduled", command => command.Bind("@until", until.ToUnixTimeMilliseconds()).Bind("@max", max));

    /// <summary>WAITING tasks none of whose dependencies is unfinished: a notification was lost.</summary>
    public Task<List<string>> StalledWaitingAsync(int max) => IdsAsync("StalledWaiting", command => command.Bind("@max", max));

    /// <summary>UPSTREAM_FAILED tasks none of whose dependencies is failed: a retry's notification was lost.</summary>
    public Task<List<string>> StalledUpstreamFailedAsync(int max) => IdsAsync("StalledUpstreamFailed", command => command.Bind("@max", max));

    private async Task<List<string>> IdsAsync(string statement, Action<DbCommand> bind)
    {
        var ids = new List<string>();
        await ReadAsync(statement, bind, reader => ids.Add(reader.GetString(0))).ConfigureAwait(false);
        return ids;
    }

    private Task ReadAsync(string statement, Action<DbCommand> bind, Action<DbDataReader> row) =>
        database.ReadRowsAsync(statement, bind, row);
}
