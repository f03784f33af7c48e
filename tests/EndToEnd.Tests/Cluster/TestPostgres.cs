using Npgsql;

namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>The PostgreSQL server the tests run against: ORLEANS_TEST_POSTGRES (set by
/// `. .ci/postgres.sh`). Without it the cluster tests skip, saying why, except under CI, where they
/// fail. Each test class gets a database of its own, created here and dropped after.</summary>
public static class TestPostgres
{
    public const string Variable = "ORLEANS_TEST_POSTGRES";

    public static bool UnderCi =>
        Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci is not ("false" or "0");

    /// <summary>The server's connection string; skips the calling test when there is none, or
    /// fails it under CI.</summary>
    public static string RequireServer()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } server)
        {
            return server;
        }

        SkipOrFail($"{Variable} is not set: no PostgreSQL server to test against (run `. .ci/postgres.sh` to start one and set it)");
        return "";
    }

    /// <summary>Skips the calling test with <paramref name="why"/>, or fails it under CI, where the
    /// PostgreSQL tests must run.</summary>
    public static void SkipOrFail(string why)
    {
        if (UnderCi)
        {
            throw new InvalidOperationException($"{why}. Under CI the PostgreSQL tests must run, not skip.");
        }

        Skip.If(true, why);
    }

    /// <summary>Creates a database with a random name on <paramref name="server"/> and answers its
    /// connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string server)
    {
        var name = "orleans_cluster_" + Guid.NewGuid().ToString("N")[..16];
        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    /// <summary>Drops the database <paramref name="database"/> names, closing whatever is still
    /// connected to it.</summary>
    public static async Task DropDatabaseAsync(string server, string database)
    {
        var name = new NpgsqlConnectionStringBuilder(database).Database;
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
