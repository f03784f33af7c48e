using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OrleansScheduler.Grains.Storage.Postgres;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>The PostgreSQL side of the Orleans tests: the class's fresh database (see
/// <see cref="PostgresTestDatabase"/>), migrated by the production migrator, so Orleans runs against
/// exactly the sql/postgresql files the store applies at start-up.</summary>
internal static class OrleansPostgres
{
    /// <summary>Applies every migration to the class's database and answers the connection string
    /// Orleans' providers get. Skips the test without a server (fails under CI).</summary>
    public static async Task<string> MigrateAsync(PostgresTestDatabase database, string applicationName)
    {
        var connectionString = database.Require();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await PostgresMigrator.ApplyAsync(connection, NullLogger.Instance, CancellationToken.None);
        }

        return ForOrleans(connectionString, applicationName);
    }

    /// <summary>The connection string of one silo. A pool of its own per silo (the application
    /// name makes the pool key differ), as separate processes would have, and a small one: Npgsql
    /// defaults to 100 connections per pool, and the test server is shared with parallel tests.
    /// The session time zone is deliberately not UTC: timestamps must not depend on it.</summary>
    public static string ForOrleans(string connectionString, string applicationName) =>
        new NpgsqlConnectionStringBuilder(connectionString)
        {
            ApplicationName = applicationName,
            MaxPoolSize = 8,
            Timezone = "America/New_York",
        }.ConnectionString;

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    public static async Task<int> ExecuteAsync(string connectionString, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return await command.ExecuteNonQueryAsync();
    }

    /// <summary>Each row as the values of its columns, in order.</summary>
    public static async Task<List<object?[]>> RowsAsync(string connectionString, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return await DbRows.ReadAsync(command);
    }
}
