using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace OrleansScheduler.Grains.Storage.Sqlite;

/// <summary>Applies the embedded sql/sqlite/NNNN_name.sql files not yet recorded in schema_version,
/// in order, inside one IMMEDIATE transaction (the lock that keeps two openers from racing).</summary>
internal static partial class SqliteMigrator
{
    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = EmbeddedMigrations.Load("sqlite");

    public static void Apply(SqliteConnection connection, ILogger logger)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var create = connection.CreateCommand())
        {
            create.Transaction = transaction;
            create.CommandText = """
                CREATE TABLE IF NOT EXISTS schema_version (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)
                """;
            create.ExecuteNonQuery();
        }

        long current;
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT coalesce(max(version), 0) FROM schema_version";
            current = (long)read.ExecuteScalar()!;
        }

        foreach (var (version, name, sql) in Migrations)
        {
            if (version <= current)
            {
                continue;
            }

            using var apply = connection.CreateCommand();
            apply.Transaction = transaction;
            apply.CommandText = sql;
            apply.ExecuteNonQuery();
            apply.CommandText = "INSERT INTO schema_version (version, name, applied_at) VALUES ($v, $n, $t)";
            apply.Parameters.AddWithValue("$v", version);
            apply.Parameters.AddWithValue("$n", name);
            apply.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            apply.ExecuteNonQuery();
            LogApplied(logger, version, name);
        }

        transaction.Commit();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Version} ({Name})")]
    private static partial void LogApplied(ILogger logger, int version, string name);
}
