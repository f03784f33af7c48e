using Orleans.Hosting;
using OrleansScheduler.Grains.Tests.Postgres;
using Xunit.Abstractions;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>Orleans' ADO.NET grain storage (AddAdoNetGrainStorage, Invariant "Npgsql") on
/// sql/postgresql/0006_orleans_persistence.sql, applied by the production migrator to a fresh
/// database, with the silo clustered through 0004.</summary>
[Collection(OrleansSilosCollection.Name)]
public sealed class PostgresGrainStorageTests(PostgresTestDatabase database, ITestOutputHelper output)
    : GrainStorageContract(output), IClassFixture<PostgresTestDatabase>
{
    protected override async Task<StorageUnderTest> StartAsync(string test)
    {
        var admin = await OrleansPostgres.MigrateAsync(database, "test-admin");
        var cluster = OrleansCluster.New("storage");
        var connectionString = OrleansPostgres.ForOrleans(admin, "storage-silo");
        var silo = await OrleansSilo.StartAsync("storage-silo", cluster, Output, s =>
        {
            s.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            s.AddAdoNetGrainStorage(StorageNames.Keep, o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            s.AddAdoNetGrainStorage(StorageNames.Delete, o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
                o.DeleteStateOnClear = true;
            });
        });
        return new Postgres(silo, cluster.ServiceId, admin);
    }

    private sealed class Postgres(OrleansSilo silo, string serviceId, string admin) : StorageUnderTest(silo, serviceId)
    {
        public override Task<int> ExecuteAsync(string sql) =>
            OrleansPostgres.ExecuteAsync(admin, sql, ("s", ServiceId));

        public override Task<long> CountAsync(string condition = "true") =>
            OrleansPostgres.ScalarAsync<long>(admin, $"SELECT count(*) FROM orleans_storage WHERE service_id = @s AND ({condition})", ("s", ServiceId));
    }
}
