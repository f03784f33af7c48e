using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>Applies the embedded sql/postgresql/NNNN_name.sql files not yet recorded in
/// schema_version, in order, in one transaction under a transaction-scoped advisory lock: silos
/// starting together queue on the lock, the first migrates, the others find the version recorded.</summary>
internal static partial class PostgresMigrator
{
    private const string ResourcePrefix = "sql/postgresql/";

    /// <summary>The advisory lock's key: any fixed number, "OrlSched" in ASCII.</summary>
    internal const long LockKey = 0x4F726C5363686564;

    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = Load();

    /// <summary>Answers how many migrations this call applied.</summary>
    public static async Task<int> ApplyAsync(NpgsqlConnection connection, ILogger logger, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand(PostgresSql.MigrationLock, connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", LockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var create = new NpgsqlCommand(PostgresSql.CreateSchemaVersion, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        int current;
        await using (var read = new NpgsqlCommand(PostgresSql.CurrentVersion, connection, transaction))
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

            await using (var record = new NpgsqlCommand(PostgresSql.RecordVersion, connection, transaction))
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

    private static List<(int, string, string)> Load()
    {
        var assembly = typeof(PostgresMigrator).Assembly;
        var migrations = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var name = resource[ResourcePrefix.Length..];
            var version = int.Parse(name.AsSpan(0, name.IndexOf('_', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded migration {resource} cannot be read.");
            using var reader = new StreamReader(stream);
            migrations.Add((version, name, reader.ReadToEnd()));
        }

        if (migrations.Count == 0)
        {
            throw new InvalidOperationException("No embedded sql/postgresql migrations: the build lost them.");
        }

        migrations.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return migrations;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied PostgreSQL migration {Version} ({Name})")]
    private static partial void LogApplied(ILogger logger, int version, string name);
}
