using System.Data.Common;
using System.Text;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The task listing both engines serve: the statement for a <see cref="TaskQuery"/> and
/// the reading of one page from its rows. Only the filters given go into the SQL, so each shape can
/// use its index ((status, seq) or (type, seq)) and stop after limit + 1 rows.</summary>
internal static class TaskListing
{
    /// <summary>The query after <paramref name="summaryColumns"/> (a SELECT whose first column is
    /// seq), with its parameters named with the engine's <paramref name="prefix"/>.</summary>
    public static (string Sql, List<(string Name, object Value)> Parameters) Build(TaskQuery query, string summaryColumns, char prefix)
    {
        ArgumentNullException.ThrowIfNull(query);
        var parameters = new List<(string Name, object Value)>();
        string Parameter(string name, object value)
        {
            parameters.Add((prefix + name, value));
            return prefix + name;
        }

        var sql = new StringBuilder(summaryColumns)
            .Append(query.NewestFirst ? " WHERE seq < " : " WHERE seq > ")
            .Append(Parameter("after", query.After ?? (query.NewestFirst ? long.MaxValue : 0L)));
        var statuses = query.AnyStatus ?? (query.Status is { } one ? [one] : []);
        if (statuses.Count > 0)
        {
            sql.Append(" AND status IN (").AppendJoin(", ", statuses.Select((s, i) => Parameter($"status{i}", s.ToName()))).Append(')');
        }

        if (query.Type is { } type)
        {
            sql.Append(" AND type = ").Append(Parameter("type", type));
        }

        sql.Append(query.NewestFirst ? " ORDER BY seq DESC" : " ORDER BY seq")
            .Append(" LIMIT ").Append(Parameter("limit", query.Limit + 1))
            .Append(" OFFSET ").Append(Parameter("offset", query.Offset));
        return (sql.ToString(), parameters);
    }

    /// <summary>Reads up to <paramref name="limit"/> summaries; the row after them, if any, says
    /// there is a next page, whose cursor is the last seq read.</summary>
    public static async Task<TaskPage> ReadPageAsync(DbDataReader reader, int limit, Func<DbDataReader, TaskSummary> read, CancellationToken cancellationToken)
    {
        var items = new List<TaskSummary>(limit);
        long lastSeq = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (items.Count == limit)
            {
                return new TaskPage(items, lastSeq);
            }

            lastSeq = reader.GetInt64(0);
            items.Add(read(reader));
        }

        return new TaskPage(items, null);
    }
}
