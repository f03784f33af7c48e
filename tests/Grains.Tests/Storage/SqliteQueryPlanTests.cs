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
    [InlineData(nameof(SqliteSql.CompleteAttempts), "sqlite_autoindex_tasks_1")]
    [InlineData(nameof(SqliteSql.HoldSlots), "INTEGER PRIMARY KEY")]
    [InlineData(nameof(SqliteSql.FreeSlotsOfTasks), "slots_task")]
    [InlineData(nameof(SqliteSql.CompletedSince), "INTEGER PRIMARY KEY")]
    [InlineData(nameof(SqliteSql.RecentCompletions), "tasks_completed")]
    public async Task A_hot_query_uses_its_index_and_sorts_nothing(string query, string index)
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
        Assert.True(text.Contains(index, StringComparison.Ordinal), $"expected {index} in: {text}");
        Assert.False(text.Contains("TEMP B-TREE", StringComparison.Ordinal), $"a sort in: {text}");
        Assert.False(plan.Any(step => step is "SCAN tasks" or "SCAN slots"), $"a full table scan in: {text}");
    }
}
