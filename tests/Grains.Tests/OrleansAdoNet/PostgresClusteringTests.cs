using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Testing;
using Xunit.Abstractions;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>Orleans' ADO.NET clustering (UseAdoNetClustering, Invariant "Npgsql") on
/// sql/postgresql/0004_orleans_clustering.sql, applied by the production migrator to a fresh
/// database: real silos in this process form a cluster through it, and Orleans' own membership
/// table class is driven through the protocol's conditional writes.</summary>
[Collection(OrleansSilosCollection.Name)]
public sealed class PostgresClusteringTests(PostgresTestDatabase database, ITestOutputHelper output) : IClassFixture<PostgresTestDatabase>
{
    private const int Active = 3;
    private const int Dead = 6;

    [SkippableFact]
    public async Task Three_silos_join_see_each_other_serve_a_client_and_a_stopped_one_is_marked_dead()
    {
        var admin = await OrleansPostgres.MigrateAsync(database, "test-admin");
        var cluster = OrleansCluster.New("three");
        var silos = new List<OrleansSilo>();
        try
        {
            // All three at once: their joins race on the version row, which is what it is for.
            silos.AddRange(await Task.WhenAll(Enumerable.Range(0, 3).Select(i => StartSiloAsync($"silo{i}", cluster))));
            var addresses = silos.Select(s => s.Address).ToHashSet();

            // The table: one Active row per silo, under this cluster's id, with their addresses.
            var rows = await Poll.UntilAsync(
                "the membership table holds three Active silos",
                () => MembershipRowsAsync(admin, cluster),
                r => r.Count == 3 && r.All(x => x.Status == Active),
                Describe);
            Assert.Equal(addresses, rows.Select(r => r.Address).ToHashSet());
            Assert.Equal(silos.Select(s => s.Name).Order(StringComparer.Ordinal), rows.Select(r => r.SiloName).Order(StringComparer.Ordinal));
            Assert.All(rows, r => Assert.True(r.ProxyPort > 0, "every silo is a gateway"));

            // Each silo's own view, from the table: all three Active, through the membership
            // service and through the management grain.
            foreach (var silo in silos)
            {
                await Poll.UntilAsync(
                    $"{silo.Name}'s membership snapshot shows the three silos Active",
                    () => Task.FromResult(ActiveMembers(silo)),
                    members => members.SetEquals(addresses),
                    members => string.Join(", ", members));
                await Poll.UntilAsync(
                    $"the management grain, called from {silo.Name}, lists the three silos as active hosts",
                    () => ActiveHostsAsync(silo),
                    hosts => hosts.SetEquals(addresses),
                    hosts => string.Join(", ", hosts));
            }

            // Heartbeats: IAmAliveTime moves on, and is the real time whatever the session's time
            // zone (the Orleans connections run in America/New_York).
            var before = (await MembershipRowsAsync(admin, cluster)).Single(r => r.Address.Equals(silos[0].Address)).IAmAlive;
            var after = await Poll.UntilAsync(
                "silo0's IAmAliveTime advances",
                async () => (await MembershipRowsAsync(admin, cluster)).Single(r => r.Address.Equals(silos[0].Address)).IAmAlive,
                t => t > before,
                t => t.ToString("O"));
            Assert.InRange(after, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));

            // A client finds the gateways in the table (GatewaysQueryKey) and reaches a grain.
            await using (var client = await StartClientAsync(cluster))
            {
                var echo = await client.Services.GetRequiredService<IClusterClient>().GetGrain<IEchoGrain>(7).Echo("hello");
                Assert.EndsWith(":hello", echo, StringComparison.Ordinal);
            }

            // A graceful stop: the silo marks itself Dead, and the others drop it.
            var stopped = silos[2];
            await stopped.StopAsync();
            rows = await Poll.UntilAsync(
                "the stopped silo's row is Dead and the other two are Active",
                () => MembershipRowsAsync(admin, cluster),
                r => r.Count == 3 && r.Single(x => x.Address.Equals(stopped.Address)).Status == Dead
                    && r.Count(x => x.Status == Active) == 2,
                Describe);
            var remaining = silos.Take(2).Select(s => s.Address).ToHashSet();
            foreach (var silo in silos.Take(2))
            {
                await Poll.UntilAsync(
                    $"{silo.Name} no longer counts the stopped silo as active",
                    () => ActiveHostsAsync(silo),
                    hosts => hosts.SetEquals(remaining),
                    hosts => string.Join(", ", hosts));
            }

            // Cleaning up defunct silos (Orleans 10.4.2 reads the table and deletes each Dead row it
            // judges old enough with CleanupDefunctSiloEntryKey, naming the values it read): with a
            // cut-off in the future the Dead row goes, the Active ones stay.
            var table = silos[0].Services.GetRequiredService<IMembershipTable>();
            await table.CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow.AddMinutes(1));
            rows = await MembershipRowsAsync(admin, cluster);
            Assert.Equal(remaining, rows.Select(r => r.Address).ToHashSet());
            Assert.All(rows, r => Assert.Equal(Active, r.Status));
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    [SkippableFact]
    public async Task Membership_writes_are_conditional_on_the_table_version_and_a_refused_one_changes_nothing()
    {
        var admin = await OrleansPostgres.MigrateAsync(database, "test-admin");
        var clusterId = "protocol-" + Guid.NewGuid().ToString("N")[..8];
        var table = await OpenTableAsync(clusterId, OrleansPostgres.ForOrleans(admin, "protocol"));

        // InitializeMembershipTableAsync created the version row (InsertMembershipVersionKey); a
        // second initialisation finds it and changes nothing.
        await (await OpenTableAsync(clusterId, OrleansPostgres.ForOrleans(admin, "protocol"))).ReadAllAsync();
        var empty = await table.ReadAllAsync();
        Assert.Empty(empty.Members);
        Assert.Equal(0, empty.Version.Version);

        var a = Entry(30001, SiloStatus.Joining);
        var b = Entry(30002, SiloStatus.Joining);
        Assert.True(await table.InsertRowAsync(a, empty.Version.Next()));
        Assert.Equal(1, await VersionAsync(admin, clusterId));

        // A writer holding the old version is refused, and nothing changes.
        Assert.False(await table.InsertRowAsync(b, empty.Version.Next()));
        var afterA = await table.ReadAllAsync();
        Assert.Equal([a.SiloAddress], afterA.Members.Select(m => m.Item1.SiloAddress));
        Assert.Equal(1, afterA.Version.Version);

        // Inserting a silo that is already there is refused, with the current version too, and
        // does not step the version.
        Assert.False(await table.InsertRowAsync(Entry(30001, SiloStatus.Joining, a.SiloAddress.Generation), afterA.Version.Next()));
        Assert.Equal(1, await VersionAsync(admin, clusterId));

        // Updates: with the current version they succeed and step it; a stale version or a silo
        // without a row is refused and changes nothing.
        var (row, etag) = afterA.Members.Single();
        row.Status = SiloStatus.Active;
        row.SuspectTimes = [Tuple.Create(b.SiloAddress, new DateTime(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc))];
        Assert.True(await table.UpdateRowAsync(row, etag, afterA.Version.Next()));
        Assert.Equal(2, await VersionAsync(admin, clusterId));
        row.Status = SiloStatus.Dead;
        Assert.False(await table.UpdateRowAsync(row, etag, afterA.Version.Next()));
        var current = await table.ReadAllAsync();
        Assert.False(await table.UpdateRowAsync(Entry(30003, SiloStatus.Active), current.Version.VersionEtag, current.Version.Next()));
        Assert.Equal(2, await VersionAsync(admin, clusterId));

        var read = await table.ReadRowAsync(a.SiloAddress);
        var stored = Assert.Single(read.Members).Item1;
        Assert.Equal(SiloStatus.Active, stored.Status);
        Assert.Equal((a.SiloName, a.HostName, a.ProxyPort), (stored.SiloName, stored.HostName, stored.ProxyPort));
        Assert.Equal(a.StartTime, stored.StartTime, TimeSpan.FromMilliseconds(1));
        Assert.NotNull(stored.SuspectTimes);
        var suspicion = Assert.Single(stored.SuspectTimes);
        Assert.Equal((b.SiloAddress, row.SuspectTimes[0].Item2), (suspicion.Item1, suspicion.Item2));

        // A silo without a row: no member, but the version.
        var none = await table.ReadRowAsync(b.SiloAddress);
        Assert.Empty(none.Members);
        Assert.Equal(2, none.Version.Version);

        // The heartbeat changes IAmAliveTime only, not the version.
        stored.IAmAliveTime = DateTime.UtcNow.AddSeconds(5);
        await table.UpdateIAmAliveAsync(stored);
        var beat = Assert.Single((await table.ReadRowAsync(a.SiloAddress)).Members).Item1;
        Assert.Equal(stored.IAmAliveTime, beat.IAmAliveTime, TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, await VersionAsync(admin, clusterId));

        // Deleting the deployment removes the version row and every silo row.
        await table.DeleteMembershipTableEntriesAsync(clusterId);
        Assert.Equal(0L, await OrleansPostgres.ScalarAsync<long>(admin,
            "SELECT (SELECT count(*) FROM orleans_membership WHERE deployment_id = @d) + (SELECT count(*) FROM orleans_membership_version WHERE deployment_id = @d)",
            ("d", clusterId)));
    }

    [SkippableFact]
    public async Task Cleanup_of_defunct_silos_removes_only_dead_rows_older_than_the_cut_off()
    {
        var admin = await OrleansPostgres.MigrateAsync(database, "test-admin");
        var clusterId = "cleanup-" + Guid.NewGuid().ToString("N")[..8];
        var table = await OpenTableAsync(clusterId, OrleansPostgres.ForOrleans(admin, "cleanup"));
        var old = DateTime.UtcNow.AddHours(-2);
        var deadOld = Entry(31001, SiloStatus.Dead, startTime: old);
        var deadRecent = Entry(31002, SiloStatus.Dead);
        var activeOld = Entry(31003, SiloStatus.Active, startTime: old);
        var stoppingOld = Entry(31004, SiloStatus.Stopping, startTime: old);
        foreach (var entry in new[] { deadOld, deadRecent, activeOld, stoppingOld })
        {
            var data = await table.ReadAllAsync();
            Assert.True(await table.InsertRowAsync(entry, data.Version.Next()));
        }

        // Orleans 10.4.2's path: the per-row CleanupDefunctSiloEntryKey.
        await table.CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow.AddHours(-1));
        Assert.Equal(
            new[] { deadRecent, activeOld, stoppingOld }.Select(e => e.SiloAddress.Endpoint.Port).Order(),
            (await table.ReadAllAsync()).Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).Order());

        // The bulk CleanupDefunctSiloEntriesKey, which Orleans falls back to without the per-row
        // key: run as Orleans runs it (parameters typed as its DbStoredQueries binds them). Dead
        // and older than the cut-off goes; the Active and the Stopping row stay however old.
        var deadOld2 = Entry(31005, SiloStatus.Dead, startTime: old);
        var data2 = await table.ReadAllAsync();
        Assert.True(await table.InsertRowAsync(deadOld2, data2.Version.Next()));
        var bulk = await OrleansPostgres.ScalarAsync<string>(admin, "SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'CleanupDefunctSiloEntriesKey'");
        await using (var connection = new Npgsql.NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = bulk;
            var deployment = command.CreateParameter();
            (deployment.ParameterName, deployment.DbType, deployment.Value) = ("DeploymentId", System.Data.DbType.String, clusterId);
            var cutOff = command.CreateParameter();
            (cutOff.ParameterName, cutOff.DbType, cutOff.Value) = ("IAmAliveTime", System.Data.DbType.DateTime, DateTime.UtcNow.AddHours(-1));
            command.Parameters.Add(deployment);
            command.Parameters.Add(cutOff);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        Assert.Equal(
            new[] { deadRecent, activeOld, stoppingOld }.Select(e => e.SiloAddress.Endpoint.Port).Order(),
            (await table.ReadAllAsync()).Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).Order());
    }

    private async Task<OrleansSilo> StartSiloAsync(string name, OrleansCluster cluster)
    {
        var connectionString = OrleansPostgres.ForOrleans(database.Require(), name);
        return await OrleansSilo.StartAsync(name, cluster, output, silo => silo.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        }));
    }

    private async Task<ClientHost> StartClientAsync(OrleansCluster cluster)
    {
        var connectionString = OrleansPostgres.ForOrleans(database.Require(), "client");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "client"));
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
        });
        var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host.StartAsync(timeout.Token);
        return new ClientHost(host);
    }

    private static async Task<AdoNetClusteringTable> OpenTableAsync(string clusterId, string connectionString)
    {
        var table = new AdoNetClusteringTable(
            new ServiceCollection().BuildServiceProvider(),
            Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "protocol" }),
            Options.Create(new AdoNetClusteringSiloOptions { Invariant = "Npgsql", ConnectionString = connectionString }),
            NullLogger<AdoNetClusteringTable>.Instance);
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        return table;
    }

    private static MembershipEntry Entry(int port, SiloStatus status, int generation = 0, DateTime? startTime = null)
    {
        var start = startTime ?? DateTime.UtcNow;
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), generation == 0 ? port * 10 : generation),
            SiloName = $"silo-{port}",
            HostName = "test-host",
            Status = status,
            ProxyPort = port + 1000,
            StartTime = start,
            IAmAliveTime = start,
        };
    }

    private static Task<int> VersionAsync(string admin, string clusterId) =>
        OrleansPostgres.ScalarAsync<int>(admin, "SELECT version FROM orleans_membership_version WHERE deployment_id = @d", ("d", clusterId));

    private static HashSet<SiloAddress> ActiveMembers(OrleansSilo silo) =>
        silo.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress)
            .ToHashSet();

    private static async Task<HashSet<SiloAddress>> ActiveHostsAsync(OrleansSilo silo) =>
        (await silo.Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Keys.ToHashSet();

    private static async Task<List<MembershipRow>> MembershipRowsAsync(string admin, OrleansCluster cluster) =>
        (await OrleansPostgres.RowsAsync(admin,
            "SELECT address, port, generation, silo_name, status, proxy_port, i_am_alive FROM orleans_membership WHERE deployment_id = @d",
            ("d", cluster.ClusterId)))
        .Select(r => new MembershipRow(
            SiloAddress.New(new IPEndPoint(IPAddress.Parse((string)r[0]!), (int)r[1]!), (int)r[2]!),
            (string)r[3]!,
            (int)r[4]!,
            (int)r[5]!,
            (DateTime)r[6]!))
        .ToList();

    private static string Describe(List<MembershipRow> rows) =>
        rows.Count == 0 ? "no rows" : string.Join("; ", rows.Select(r => $"{r.SiloName} {r.Address} status {r.Status}"));

    private sealed record MembershipRow(SiloAddress Address, string SiloName, int Status, int ProxyPort, DateTime IAmAlive);

    private sealed class ClientHost(IHost host) : IAsyncDisposable
    {
        public IServiceProvider Services => host.Services;

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(timeout.Token);
            host.Dispose();
        }
    }
}

/// <summary>The Orleans test classes start silos; one at a time keeps a 2-core machine's
/// membership probes from timing out under the load of three clusters at once.</summary>
[CollectionDefinition(Name)]
public sealed class OrleansSilosCollection
{
    public const string Name = "Orleans silos";
}
