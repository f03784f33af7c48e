using Npgsql;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>Guards a failure first seen in <see cref="SiloPauseTests"/> (about one run in ten): a silo frozen (SIGSTOP, a VM pause, a network cut that keeps the TCP session) in the
/// middle of its heartbeat turn leaves that transaction open on the server, holding the lock on
/// its `silos` row (and on its slots once RenewLeases ran). Every other silo's reminder turn starts
/// with DeclareDead (`UPDATE silos SET status = 'DEAD' WHERE status = 'ACTIVE' AND heartbeat_at &lt;
/// @since`), which waits on that lock; so no lease is reclaimed and no reminder fires anywhere in
/// the cluster until the frozen silo resumes or its session dies. The store now skips locked silo
/// rows and has the server end a session idle in a transaction for a lease (at least 5 s). Here: SIGSTOP the silo holding
/// tasks until it is caught with its heartbeat transaction open, then expect its tasks to be
/// re-run by the others, as they are when it is stopped between turns.</summary>
[Collection(ClusterCollection.Name)]
public sealed class FrozenHeartbeatReproTests(ITestOutputHelper log) : IAsyncLifetime
{
    /// <summary>Not a wait: an odd step, so successive SIGSTOPs land at different points of the heartbeat.</summary>
    private static readonly TimeSpan Stagger = TimeSpan.FromMilliseconds(37);

    private ProcessCluster? _cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task A_silo_frozen_inside_its_heartbeat_transaction_still_has_its_tasks_re_run()
    {
        var server = TestPostgres.RequireServer();
        var cluster = _cluster = await ProcessCluster.StartAsync(server, log);
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

        // SIGSTOP it until it is caught with a heartbeat transaction open (a few per cent of tries).
        var caught = false;
        for (var attempt = 1; attempt <= 600 && !caught; attempt++)
        {
            victim.Pause();
            var until = DateTime.UtcNow.AddMilliseconds(300);
            while (!caught && DateTime.UtcNow < until)
            {
                caught = await OpenHeartbeatAsync(server, cluster.Database, victimId);
            }

            if (!caught)
            {
                victim.Resume();
                await Task.Delay(Stagger); // Spreads the next SIGSTOP over the heartbeat period.
            }
            else
            {
                log.WriteLine($"caught {victimId} inside its heartbeat transaction on try {attempt}");
            }
        }

        Skip.IfNot(caught, $"never caught {victimId} inside its heartbeat transaction");
        await cluster.WaitAsync(
            $"the tasks of the frozen {victimId} are re-run by the others",
            () => Task.WhenAll(held.Select(id => cluster.Api.GetAsync($"/api/tasks/{id}"))),
            tasks => tasks.All(t => (string?)t["worker_id"] != victimId),
            tasks => string.Join(", ", tasks.Select(t => $"{t["id"]}={t["status"]}@{t["worker_id"]}")),
            TimeSpan.FromSeconds(30));
    }

    /// <summary>A session of <paramref name="silo"/> (its Application Name) idle in a transaction whose
    /// last statement is the heartbeat or the lease renewal, open for over 200 ms (a running silo's
    /// takes milliseconds).</summary>
    private static async Task<bool> OpenHeartbeatAsync(string server, string database, string silo)
    {
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = @db AND application_name = @silo AND state = 'idle in transaction' AND now() - xact_start > interval '200 milliseconds'
              AND (query LIKE 'UPDATE silos SET heartbeat_at%' OR query LIKE 'UPDATE slots s SET lease_expires_at%')
            """, admin);
        command.Parameters.AddWithValue("db", new NpgsqlConnectionStringBuilder(database).Database!);
        command.Parameters.AddWithValue("silo", silo);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }
}
