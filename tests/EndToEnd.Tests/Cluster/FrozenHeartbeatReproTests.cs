using Npgsql;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>Guards a failure first seen in <see cref="SiloPauseTests"/> (about one run in ten): a silo frozen (SIGSTOP, a VM pause, a network cut that keeps the TCP session) in the
/// middle of its heartbeat turn leaves that transaction open on the server, holding the lock on
/// its `silos` row (and on its slots once RenewLeases ran). Every other silo's reminder turn starts
/// with DeclareDead (`UPDATE silos SET status = 'DEAD' WHERE status = 'ACTIVE' AND heartbeat_at &lt;
/// @since`), which waits on that lock; so no lease is reclaimed and no reminder fires anywhere in
/// the cluster until the frozen silo resumes or its session dies. The store now skips locked silo
/// rows and has the server end a session idle in a transaction for a lease (at least 5 s). Here
/// the silo holding tasks is frozen inside its heartbeat transaction on purpose (see the test),
/// and its tasks must be re-run by the others, as they are when it is stopped between turns.</summary>
[Collection(ClusterCollection.Name)]
public sealed class FrozenHeartbeatReproTests(ITestOutputHelper log) : ProcessClusterTest(log)
{
    [SkippableFact]
    public async Task A_silo_frozen_inside_its_heartbeat_transaction_still_has_its_tasks_re_run()
    {
        var server = TestPostgres.RequireServer();
        var cluster = await StartClusterAsync(server);
        var dag = Enumerable.Range(0, ProcessCluster.MaxConcurrentTasks).Select(i => (object)new { id = $"long-{i}", type = "e2e", duration_ms = 60_000 }).ToList();
        await cluster.Api.SubmitBatchAsync(dag);
        var holders = await cluster.WaitAsync(
            "every slot is held",
            cluster.SlotHoldersAsync,
            h => h.Count == ProcessCluster.MaxConcurrentTasks,
            h => $"{h.Count} holders");
        var victimId = holders.GroupBy(h => h.Silo).OrderByDescending(g => g.Count()).First().Key;
        var victim = cluster.Silo(victimId);
        var held = holders.Where(h => h.Silo == victimId).Select(h => h.Task).ToList();

        // Freeze it inside its heartbeat transaction, deterministically: hold one of its slot rows
        // so its next heartbeat (silos row updated, lease renewal waiting on that slot) blocks with
        // its transaction open; SIGSTOP it there; then let go, so its renewal completes on the
        // server and its session sits idle in the transaction, holding its silos and slot row
        // locks, with the client frozen.
        await using (var blocker = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cluster.Database) { Pooling = false }.ConnectionString))
        {
            await blocker.OpenAsync();
            await using var hold = await blocker.BeginTransactionAsync();
            await using (var lockSlot = new NpgsqlCommand("SELECT slot_no FROM slots WHERE silo = @silo ORDER BY slot_no LIMIT 1 FOR UPDATE", blocker, hold))
            {
                lockSlot.Parameters.AddWithValue("silo", victimId);
                await lockSlot.ExecuteScalarAsync();
            }

            await cluster.WaitAsync(
                $"{victimId}'s heartbeat waits on the held slot",
                () => SessionStateAsync(server, cluster.Database, victimId),
                state => state == "waiting",
                state => state);
            victim.Pause();
            await hold.RollbackAsync();
        }

        await cluster.WaitAsync(
            $"{victimId} is frozen inside its heartbeat transaction",
            () => SessionStateAsync(server, cluster.Database, victimId),
            state => state == "idle in transaction",
            state => state);

        await cluster.WaitAsync(
            $"the tasks of the frozen {victimId} are re-run by the others",
            () => Task.WhenAll(held.Select(id => cluster.Api.GetAsync($"/api/tasks/{id}"))),
            tasks => tasks.All(t => (string?)t["worker_id"] != victimId),
            tasks => string.Join(", ", tasks.Select(t => $"{t["id"]}={t["status"]}@{t["worker_id"]}")),
            TimeSpan.FromSeconds(30));
    }

    /// <summary>What the sessions of <paramref name="silo"/> (its Application Name) are doing:
    /// "waiting" when one waits on a lock inside its heartbeat turn, "idle in transaction" when one
    /// sits in an open transaction, else "running".</summary>
    private static async Task<string> SessionStateAsync(string server, string database, string silo)
    {
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT CASE
                WHEN bool_or(wait_event_type = 'Lock' AND query LIKE 'WITH mine AS%') THEN 'waiting'
                WHEN bool_or(state = 'idle in transaction') THEN 'idle in transaction'
                ELSE 'running' END
            FROM pg_stat_activity WHERE datname = @db AND application_name = @silo
            """, admin);
        command.Parameters.AddWithValue("db", new NpgsqlConnectionStringBuilder(database).Database!);
        command.Parameters.AddWithValue("silo", silo);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
