using OrleansScheduler.Grains.Tests.Cluster;

namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>The contract on the one-process deployment: one silo on a SQLite file.</summary>
public sealed class SqliteTaskGrainTests(SqliteClusterFixture fixture)
    : TaskGrainContract(fixture), IClassFixture<SqliteClusterFixture>;

/// <summary>The contract on a cluster: three silos sharing a PostgreSQL database.</summary>
public sealed class PostgresTaskGrainTests(PostgresClusterFixture fixture)
    : TaskGrainContract(fixture), IClassFixture<PostgresClusterFixture>;
