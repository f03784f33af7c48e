using Microsoft.Data.Sqlite;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

/// <summary>The hot queries read their index, whatever the table holds: a claim walks the ready
/// index in claim order and stops after the batch, and /api/stats reads only recent completions.
/// Without the INDEXED BY hints SQLite chose the status index and sorted every matching row, so a
/// claim cost grew with the backlog (docs/performance.md: 3,639 tasks/s at 1,000,000 queued).</summary>
public sealed class SqliteQueryPlanTests(TempFolder folder) : IClassFixture<TempFolder>
{
    [Theory]
    [InlineData(nameof(SqliteSql.ClaimReady), "tasks_ready")]
    [InlineData(nameof(SqliteSql.ReadyCount), "tasks_ready")]
    [InlineData(nameof(SqliteSql.CompleteAttempts), "sqlite_autoindex_tasks_1")]
    [InlineData(nameof(SqliteSql.HoldSlots), "INTEGER PRIMARY KEY")]
    [InlineData(nameof(SqliteSql.FreeSlotsOfTasks), "slots_task")]
    [InlineData(nameof(SqliteSql.ReleaseDependents), "USING PRIMARY KEY (upstream=?); SEARCH tasks USING INTEGER PRIMARY KEY", "GROUP BY")]
    [InlineData(nameof(SqliteSql.CompletedSince), "INTEGER PRIMARY KEY")]
    [InlineData(nameof(SqliteSql.RecentCompletions), "tasks_completed")]
    public async Task A_hot_query_uses_its_index_and_sorts_nothing(string query, string index, string? batchSort = null)
    {
        var path = folder.File($"plan-{query}.db");
        await using (var store = SqliteTaskStoreTests.Create(path, 3))
        {
            await store.InitializeAsync(CancellationToken.None);
        }

        var sql = (string)typeof(SqliteSql).GetField(query)!.GetRawConstantValue()!;
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        command.Parameters.AddWithValue("$max", 100);
        command.Parameters.AddWithValue("$since", 0);
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(3));
            }
        }

        var text = string.Join(" | ", plan);
        // The whole plan in each message, so a failure shows what SQLite chose.
        foreach (var expected in index.Split("; "))
        {
            Assert.True(text.Contains(expected, StringComparison.Ordinal), $"expected {expected} in: {text}");
        }

        // A sort is allowed only where the statement sorts its own batch (the edges of the tasks a
        // turn completed), never rows of a table.
        Assert.False(plan.Any(step => step.Contains("TEMP B-TREE", StringComparison.Ordinal) && (batchSort is null || !step.Contains(batchSort, StringComparison.Ordinal))), $"a sort in: {text}");
        Assert.False(plan.Any(step => step is "SCAN tasks" or "SCAN slots"), $"a full table scan in: {text}");
    }
}
