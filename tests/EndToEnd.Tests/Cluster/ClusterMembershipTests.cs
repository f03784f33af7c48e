using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>Issue 9: three silo processes on one PostgreSQL database form one Orleans cluster. Each
/// is an Active silo in Orleans' membership table (orleans_membership, sql/postgresql/0004), with an
/// address and a gateway of its own, and GET /api/workers (the front end, an Orleans client that
/// found the gateways in that table) lists the same three ACTIVE; together they run tasks.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterMembershipTests(ITestOutputHelper log) : ProcessClusterTest(log)
{
    [SkippableFact]
    public async Task Three_silo_processes_are_active_orleans_silos_in_the_membership_table_and_in_api_workers()
    {
        var server = TestPostgres.RequireServer();
        var cluster = await StartClusterAsync(server);
        var names = cluster.Silos.Select(s => s.Name).Order(StringComparer.Ordinal).ToList();

        var rows = await cluster.MembershipAsync();
        Log.WriteLine($"membership: {MembershipRow.Describe(rows)}");
        Assert.Equal(names, rows.Select(r => r.Silo).Order(StringComparer.Ordinal));
        Assert.All(rows, r => Assert.Equal(MembershipRow.Active, r.Status));
        Assert.Equal(rows.Count, rows.Select(r => r.Address).Distinct(StringComparer.Ordinal).Count());

        var workers = await cluster.WorkersAsync();
        Log.WriteLine($"/api/workers: {new JsonArray([.. workers.Select(w => w.DeepClone())]).ToJsonString()}");
        Assert.Equal(names, workers.Select(w => (string)w["id"]!).Order(StringComparer.Ordinal));
        Assert.All(workers, w => Assert.Equal("ACTIVE", (string?)w["status"]));
        Assert.All(workers, w => Assert.Equal(ProcessCluster.MaxConcurrentTasks, (int)w["capacity"]!));
        var stats = await cluster.Api.GetAsync("/api/stats");
        Assert.Equal(names.Count, (int)stats["silos_alive"]!);

        // One cluster: tasks submitted through the front end run and complete, within the one limit.
        var ids = await cluster.Api.SubmitBatchAsync(Enumerable.Range(0, 12).Select(i => (object)new { id = $"m-{i:00}", type = "e2e", duration_ms = 200 }));
        await cluster.WaitAllCompletedAsync(ids);
        var events = await cluster.AssertCompletedExactlyOnceAsync(ids);
        Assert.True(ProcessCluster.MaxRunning(events.Values) <= ProcessCluster.MaxConcurrentTasks);
        Assert.All(events.Values.SelectMany(e => e).Where(e => e.To == "RUNNING"), e => Assert.Contains(e.Silo, names));
    }
}
