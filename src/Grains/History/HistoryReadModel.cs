using System.Data.Common;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.History;

/// <summary>The reads behind the dashboard's charts and graph, every one bounded whatever the number
/// of stored tasks: per-second counters and samples of the window (at most an hour of rows), the
/// latest 1,000 completions by the completion index, and a walk of the edges by their indexes,
/// capped per level. Statements are named in sql/&lt;engine&gt;/queries.sql.</summary>
internal sealed class HistoryReadModel(SchedulerDatabase database)
{
    /// <summary>Run-time bucket bounds in ms: roughly 1-2-5 steps from 1 ms to an hour.</summary>
    private static readonly long[] Bounds =
        [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];

    public Task<List<(long Second, long Count)>> CompletionsSinceAsync(long since) => PerSecondAsync("CompletionsSince", since);

    public Task<List<(long Second, long Count)>> FailuresSinceAsync(long since) => PerSecondAsync("FailuresSince", since);

    public async Task<List<QueueDepthPoint>> QueueDepthSinceAsync(long since)
    {
        var points = new List<QueueDepthPoint>();
        await ReadAsync("QueueDepthSince", command => command.Bind("@since", since), reader => points.Add(new QueueDepthPoint(
            DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(0)), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)))).ConfigureAwait(false);
        return points;
    }

    /// <summary>The run times of the latest completions (the statement /api/stats reads its latency
    /// figures from), in buckets.</summary>
    public async Task<RunTimeHistogram> RunTimesAsync()
    {
        var runs = new List<double>();
        await ReadAsync("RecentCompletions", _ => { }, reader =>
        {
            if (!reader.IsDBNull(1))
            {
                runs.Add(Math.Max(0, reader.GetInt64(1)));
            }
        }).ConfigureAwait(false);
        return Histogram(runs);
    }

    internal static RunTimeHistogram Histogram(List<double> runs)
    {
        var counts = new long[Bounds.Length + 1];
        foreach (var run in runs)
        {
            var bucket = 0;
            while (bucket < Bounds.Length && run >= Bounds[bucket])
            {
                bucket++;
            }

            counts[bucket]++;
        }

        var buckets = new List<RunTimeBucket>();
        var first = Array.FindIndex(counts, c => c > 0);
        var last = Array.FindLastIndex(counts, c => c > 0);
        for (var i = first; first >= 0 && i <= last; i++)
        {
            buckets.Add(new RunTimeBucket(i == 0 ? 0 : Bounds[i - 1], i < Bounds.Length ? Bounds[i] : null, counts[i]));
        }

        return new RunTimeHistogram(runs.Count, BlockedByReasons.Percentile(runs, 0.50), BlockedByReasons.Percentile(runs, 0.99),
            runs.Count > 0 ? runs.Max() : null, buckets);
    }

    public async Task<GraphRow?> NodeAsync(string id)
    {
        GraphRow? found = null;
        await ReadAsync("GraphNode", command => command.Bind("@id", id), reader => found = Row(reader, 0, 0)).ConfigureAwait(false);
        return found;
    }

    /// <summary>The dependencies (<paramref name="upstream"/>) or dependents of the tasks
    /// <paramref name="seqs"/>: (the task they were found from, the neighbour), at most
    /// <paramref name="max"/> rows.</summary>
    public async Task<List<(long From, GraphRow Neighbour)>> NeighboursAsync(IReadOnlyCollection<long> seqs, bool upstream, int max)
    {
        var rows = new List<(long, GraphRow)>();
        var list = "[" + string.Join(",", seqs.Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
        await ReadAsync(upstream ? "GraphUpstream" : "GraphDownstream", command => command.Bind("@seqs", list).Bind("@max", max),
            reader => rows.Add((reader.GetInt64(0), Row(reader, 1, 0)))).ConfigureAwait(false);
        return rows;
    }

    private static GraphRow Row(DbDataReader reader, int at, int level) => new(
        reader.GetInt64(at),
        reader.GetString(at + 1),
        reader.GetString(at + 2),
        TaskStatusNames.Parse(reader.GetString(at + 3)),
        reader.GetInt64(at + 4),
        reader.GetInt64OrNull(at + 5),
        reader.GetInt64OrNull(at + 6),
        level);

    private async Task<List<(long Second, long Count)>> PerSecondAsync(string statement, long since)
    {
        var rows = new List<(long, long)>();
        await ReadAsync(statement, command => command.Bind("@since", since), reader => rows.Add((reader.GetInt64(0), reader.GetInt64(1)))).ConfigureAwait(false);
        return rows;
    }

    private Task ReadAsync(string statement, Action<DbCommand> bind, Action<DbDataReader> row) =>
        database.ReadRowsAsync(statement, bind, row);
}

/// <summary>A task as the graph shows it; times are Unix ms.</summary>
internal sealed record GraphRow(long Seq, string Id, string Type, TaskStatus Status, long DurationMs, long? StartedAt, long? CompletedAt, int Level);
