using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace OrleansScheduler.Grains.Tests.Postgres;

/// <summary>A fresh PostgreSQL database per test class (a class fixture), created on the server
/// ORLEANS_TEST_POSTGRES names and dropped when the class is done; inside it, one schema per test
/// (river's TestSchema), so a test's stores share data by name and tests never see each other's.
/// Without ORLEANS_TEST_POSTGRES the tests skip, saying why, except under CI, where they fail:
/// .ci/postgres.sh starts a server and sets the variable.</summary>
public sealed class PostgresTestDatabase : IAsyncLifetime
{
    public const string Variable = "ORLEANS_TEST_POSTGRES";

    private readonly string? _server = Environment.GetEnvironmentVariable(Variable);
    private readonly string _name = "orleans_test_" + Guid.NewGuid().ToString("N")[..16];

    /// <summary>The class's database, or null when no server is configured.</summary>
    public string? ConnectionString { get; private set; }

    public static bool UnderCi =>
        Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci is not ("false" or "0");

    public async Task InitializeAsync()
    {
        if (string.IsNullOrWhiteSpace(_server))
        {
            return;
        }

        await using (var admin = new NpgsqlConnection(_server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        ConnectionString = new NpgsqlConnectionStringBuilder(_server) { Database = _name }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (ConnectionString is null)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(_server);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    /// <summary>Skips the calling test when no server is configured, or fails it under CI.</summary>
    public string Require()
    {
        if (ConnectionString is { } connectionString)
        {
            return connectionString;
        }

        var why = $"{Variable} is not set: no PostgreSQL server to test against (run `. .ci/postgres.sh` to start one and set it)";
        if (UnderCi)
        {
            throw new InvalidOperationException($"{why}. Under CI the PostgreSQL tests must run, not skip.");
        }

        Skip.If(true, why);
        return "";
    }

    /// <summary>A connection string whose search_path is the schema <paramref name="name"/> of this
    /// class's database, created if missing: the same name reaches the same data.</summary>
    public async Task<string> SchemaAsync(string name)
    {
        var connectionString = Require();
        var schema = SchemaName(name);
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA IF NOT EXISTS \"{schema}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema }.ConnectionString;
    }

    /// <summary>Test names are longer than PostgreSQL's 63-byte identifiers: keep a readable
    /// prefix and make it unique with a hash of the whole name.</summary>
    private static string SchemaName(string name)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..10];
        var readable = new string(name.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c == '_').Take(40).ToArray());
        return $"t_{readable}_{hash}";
    }
}
