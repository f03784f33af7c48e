using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

/// <summary>The hot statements of sql/sqlite/queries.sql read their index, whatever the table holds:
/// the grant scan walks the ready index in grant order and stops after the batch, a grain's read and
/// write find its row by key, and /api/stats reads only recent completions. Without the INDEXED BY
/// hints SQLite chose the status index and sorted every matching row, so the ready scan grew with
/// the backlog (docs/performance.md: 3,639 tasks/s at 1,000,000 queued).</summary>
public sealed class SqliteQueryPlanTests(TempFolder folder) : IClassFixture<TempFolder>
{
    [Theory]
    [InlineData("ReadyTasks", "tasks_ready")]
    [InlineData("WorkerReadyTasks", "tasks_worker_ready")]
    [InlineData("DueScheduled", "tasks_due")]
    [InlineData("ReadTask", "sqlite_autoindex_tasks_1")]
    [InlineData("UpdateTask", "INTEGER PRIMARY KEY")]
    [InlineData("DependenciesOf", "task_edges_downstream")]
    [InlineData("EventsOf", "task_events_task")]
    [InlineData("CompletedSince", "INTEGER PRIMARY KEY")]
    [InlineData("RecentCompletions", "tasks_completed")]
    [InlineData("FailuresSince", "INTEGER PRIMARY KEY")]
    [InlineData("QueueDepthSince", "INTEGER PRIMARY KEY")]
    [InlineData("GraphNode", "sqlite_autoindex_tasks_1")]
    [InlineData("GraphUpstream", "task_edges_downstream")]
    [InlineData("GraphDownstream", "PRIMARY KEY (upstream=?)")]
    public async Task A_hot_statement_uses_its_index_and_sorts_nothing(string statement, string index)
    {
        var path = folder.File($"plan-{statement}.db");
        await using (var database = new SqliteDatabase(new StorageOptions { DatabaseUrl = path }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance))
        {
            await database.OpenAsync(CancellationToken.None);
        }

        var sql = SqlStatements.Load("sqlite")[statement];
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var name in new[] { "@max", "@since", "@until", "@id", "@seq", "@version" })
        {
            command.Parameters.AddWithValue(name, 100);
        }

        command.Parameters.AddWithValue("@seqs", "[100, 101]");
        command.Parameters.AddWithValue("@type", "processing");

        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(3));
            }
        }

        // The whole plan in each message, so a failure shows what SQLite chose.
        var text = string.Join(" | ", plan);
        Assert.True(text.Contains(index, StringComparison.Ordinal), $"expected {index} in: {text}");
        Assert.False(plan.Any(step => step.Contains("TEMP B-TREE", StringComparison.Ordinal)), $"a sort in: {text}");
        Assert.False(plan.Any(step => step is "SCAN tasks" or "SCAN t" or "SCAN u" or "SCAN d" or "SCAN e" or "SCAN slot_holders"), $"a full table scan in: {text}");
    }
}
