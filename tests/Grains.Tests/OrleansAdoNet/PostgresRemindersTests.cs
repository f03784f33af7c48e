using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Testing;
using Xunit.Abstractions;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>Orleans' ADO.NET reminders (UseAdoNetReminderService, Invariant "Npgsql") on
/// sql/postgresql/0005_orleans_reminders.sql, applied by the production migrator to a fresh
/// database, with silos clustered through 0004.</summary>
[Collection(OrleansSilosCollection.Name)]
public sealed class PostgresRemindersTests(PostgresTestDatabase database, ITestOutputHelper output) : IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [SkippableFact]
    public async Task A_grains_reminder_fires_changes_its_etag_when_updated_unregisters_and_is_found_again_by_new_silos()
    {
        var admin = await OrleansPostgres.MigrateAsync(database, "test-admin");
        var cluster = OrleansCluster.New("reminders");
        var grainKey = "probe-" + Guid.NewGuid().ToString("N")[..8];
        var tick = ReminderProbeGrain.TickKey(grainKey, "tick");

        GrainId grainId;
        await using (var first = await StartSiloAsync("first", cluster))
        {
            var grain = first.Grains.GetGrain<IReminderProbeGrain>(grainKey);
            grainId = grain.GetGrainId();
            var table = first.Services.GetRequiredService<IReminderTable>();

            await grain.Register("tick", Second);
            var row = await RowAsync(admin, cluster, grainId, "tick");
            Assert.Equal((0, 1000L, unchecked((int)grainId.GetUniformHashCode())), (row.Version, row.PeriodMs, row.GrainHash));
            await Poll.UntilAsync("the reminder fires twice", () => Task.FromResult(Ticks(tick)), n => n >= 2, n => $"{n} ticks");

            // Orleans reads the reminder back (ReadReminderRowKey) with its ETag, the row version.
            var registered = await table.ReadRow(grainId, "tick");
            Assert.NotNull(registered);
            Assert.Equal(("tick", Second, "0"), (registered.ReminderName, registered.Period, registered.ETag));
            Assert.InRange(registered.StartAt, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));

            // Registering again updates the schedule and changes the ETag.
            await grain.Register("tick", 2 * Second);
            row = await RowAsync(admin, cluster, grainId, "tick");
            Assert.Equal((1, 2000L), (row.Version, row.PeriodMs));
            var updated = await table.ReadRow(grainId, "tick");
            Assert.Equal(("1", 2 * Second), (updated!.ETag, updated.Period));

            // A second reminder; the grain's reminders as Orleans lists them (ReadReminderRowsKey).
            await grain.Register("tock", Second);
            Assert.Equal(["tick", "tock"], await grain.Reminders());
            Assert.True(await grain.Has("tock"));
            Assert.Null(await table.ReadRow(grainId, "never-registered"));

            // Removing with a stale ETag is refused and leaves the row; the grain unregisters with
            // the current one.
            Assert.False(await table.RemoveRow(grainId, "tick", registered.ETag!));
            Assert.Equal(1, (await RowAsync(admin, cluster, grainId, "tick")).Version);
            await grain.Unregister("tock");
            Assert.False(await grain.Has("tock"));
            Assert.Equal(["tick"], await grain.Reminders());
            Assert.Equal(0L, await CountAsync(admin, cluster, "tock"));

            // Ranges of the hash ring, (begin, end]: the non-wrapping text (ReadRangeRows1Key)
            // and the wrapping one (ReadRangeRows2Key), each including and excluding the grain.
            var hash = grainId.GetUniformHashCode();
            Assert.True(await InRangeAsync(table, grainId, unchecked(hash - 1), hash), "(hash-1, hash] holds it");
            Assert.False(await InRangeAsync(table, grainId, hash, unchecked(hash + 1)), "(hash, hash+1] does not");
            Assert.True(await InRangeAsync(table, grainId, unchecked(hash + 1), hash), "the wrapping (hash+1, hash] holds it");
            Assert.False(await InRangeAsync(table, grainId, hash, unchecked(hash - 1)), "the wrapping (hash, hash-1] does not");
            Assert.True(await InRangeAsync(table, grainId, hash, hash), "(hash, hash] is the whole ring");
        }

        // The silo is gone. Two new ones load their ranges of reminders from the table, and the
        // one that owns the grain's hash fires the reminder nobody registered again.
        var before = Ticks(tick);
        var second = await StartSiloAsync("second", cluster);
        var third = await StartSiloAsync("third", cluster);
        try
        {
            await Poll.UntilAsync(
                "the reminder loaded from the table by the new silos fires",
                () => Task.FromResult(Ticks(tick)),
                n => n > before,
                n => $"{n} ticks, {before} before the restart",
                TimeSpan.FromSeconds(60));

            // Orleans' test-only clear (DeleteReminderRowsKey) empties the service's reminders.
            await second.Services.GetRequiredService<IReminderTable>().TestOnlyClearTable();
            Assert.Equal(0L, await OrleansPostgres.ScalarAsync<long>(admin,
                "SELECT count(*) FROM orleans_reminders WHERE service_id = @s", ("s", cluster.ServiceId)));
        }
        finally
        {
            await third.DisposeAsync();
            await second.DisposeAsync();
        }
    }

    private async Task<OrleansSilo> StartSiloAsync(string name, OrleansCluster cluster)
    {
        var connectionString = OrleansPostgres.ForOrleans(database.Require(), name);
        return await OrleansSilo.StartAsync(name, cluster, output, silo =>
        {
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = Second);
        });
    }

    private static int Ticks(string key) => ReminderProbeGrain.Ticks.GetValueOrDefault(key);

    private static async Task<bool> InRangeAsync(IReminderTable table, GrainId grainId, uint begin, uint end) =>
        (await table.ReadRows(begin, end)).Reminders.Any(r => r.GrainId == grainId);

    private static async Task<(int Version, long PeriodMs, int GrainHash)> RowAsync(string admin, OrleansCluster cluster, GrainId grainId, string name)
    {
        var row = Assert.Single(await OrleansPostgres.RowsAsync(admin,
            "SELECT version, period_ms, grain_hash FROM orleans_reminders WHERE service_id = @s AND grain_id = @g AND reminder_name = @n",
            ("s", cluster.ServiceId), ("g", grainId.ToString()), ("n", name)));
        return ((int)row[0]!, (long)row[1]!, (int)row[2]!);
    }

    private static Task<long> CountAsync(string admin, OrleansCluster cluster, string name) =>
        OrleansPostgres.ScalarAsync<long>(admin,
            "SELECT count(*) FROM orleans_reminders WHERE service_id = @s AND reminder_name = @n",
            ("s", cluster.ServiceId), ("n", name));
}
