using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>Applies the embedded sql/postgresql/NNNN_name.sql files not yet recorded in
/// schema_version, in order, in one transaction under a transaction-scoped advisory lock: silos
/// starting together queue on the lock, the first migrates, the others find the version recorded.</summary>
internal static partial class PostgresMigrator
{
    /// <summary>The advisory lock's key: any fixed number, "OrlSched" in ASCII.</summary>
    internal const long LockKey = 0x4F726C5363686564;

    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = EmbeddedMigrations.Load("postgresql");

    private const string MigrationLock = "SELECT pg_advisory_xact_lock(@key)";

    private const string CreateSchemaVersion = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
        """;

    private const string CurrentVersion = "SELECT coalesce(max(version), 0) FROM schema_version";

    private const string RecordVersion = "INSERT INTO schema_version (version, name) VALUES (@version, @name)";

    /// <summary>Answers how many migrations this call applied.</summary>
    public static async Task<int> ApplyAsync(NpgsqlConnection connection, ILogger logger, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand(MigrationLock, connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", LockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var create = new NpgsqlCommand(CreateSchemaVersion, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        int current;
        await using (var read = new NpgsqlCommand(CurrentVersion, connection, transaction))
        {
            current = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        var applied = 0;
        foreach (var (version, name, sql) in Migrations)
        {
            if (version <= current)
            {
                continue;
            }

            await using (var apply = new NpgsqlCommand(sql, connection, transaction))
            {
                await apply.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var record = new NpgsqlCommand(RecordVersion, connection, transaction))
            {
                record.Parameters.AddWithValue("version", version);
                record.Parameters.AddWithValue("name", name);
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            LogApplied(logger, version, name);
            applied++;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return applied;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied PostgreSQL migration {Version} ({Name})")]
    private static partial void LogApplied(ILogger logger, int version, string name);
}
