using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService;
using Orleans.Storage;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Postgres;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>The OrleansQuery rows our migrations install are exactly the keys the Orleans
/// assemblies this project runs ask for. The required keys are read from those assemblies the way
/// Orleans itself reads them (clustering and reminders refuse to start unless every instance
/// property of their internal DbStoredQueries has a row; grain storage selects the keys named in
/// AdoNetGrainStorage.DefaultInitializationQuery), so an Orleans upgrade that needs a new key fails
/// here by name.</summary>
public sealed partial class OrleansQueryCatalogueTests(PostgresTestDatabase database, TempFolder folder)
    : IClassFixture<PostgresTestDatabase>, IClassFixture<TempFolder>
{
    /// <summary>Optional in Orleans.Clustering.AdoNet 10.4.2 (looked up by name, used for the
    /// per-row cleanup of dead silos when present); ours installs it.</summary>
    private const string OptionalClusteringKey = "CleanupDefunctSiloEntryKey";

    [SkippableFact]
    public async Task PostgreSQL_installs_exactly_the_keys_of_clustering_reminders_and_grain_storage()
    {
        var admin = await OrleansPostgres.MigrateAsync(database, "test-admin");
        var installed = (await OrleansPostgres.RowsAsync(admin, "SELECT QueryKey FROM OrleansQuery"))
            .Select(r => (string)r[0]!)
            .ToHashSet(StringComparer.Ordinal);

        var clustering = StoredQueryKeys(typeof(AdoNetClusteringTable).Assembly, "Orleans.Clustering.AdoNet.Storage.DbStoredQueries");
        var reminders = StoredQueryKeys(typeof(AdoNetReminderTableOptions).Assembly, "Orleans.Reminders.AdoNet.Storage.DbStoredQueries");
        Assert.Equal(9, clustering.Count);
        Assert.Equal(7, reminders.Count);
        Assert.True(MentionsString(typeof(AdoNetClusteringTable).Assembly, OptionalClusteringKey),
            $"Orleans' clustering no longer knows the optional {OptionalClusteringKey}: revisit 0004");

        var expected = clustering.Concat(reminders).Concat(GrainStorageKeys()).Append(OptionalClusteringKey).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(expected.Order(StringComparer.Ordinal), installed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Sqlite_installs_exactly_the_keys_of_grain_storage()
    {
        using var connection = new SqliteConnection($"Data Source={folder.File("catalogue.db")};Pooling=False");
        connection.Open();
        SqliteMigrator.Apply(connection, NullLogger.Instance);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT QueryKey FROM OrleansQuery";
        var installed = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                installed.Add(reader.GetString(0));
            }
        }

        Assert.Equal(GrainStorageKeys().Order(StringComparer.Ordinal), installed.Order(StringComparer.Ordinal));
    }

    /// <summary>The keys a DbStoredQueries demands: Orleans' constructor compares the names of
    /// its non-public instance properties with the rows it read.</summary>
    private static HashSet<string> StoredQueryKeys(Assembly assembly, string typeName) =>
        assembly.GetType(typeName, throwOnError: true)!
            .GetProperties(BindingFlags.Instance | BindingFlags.NonPublic)
            .Select(p => p.Name)
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>The keys the grain storage selects at start-up (all four are installed: the
    /// fourth, DeleteStorageKey, is needed with DeleteStateOnClear).</summary>
    private static List<string> GrainStorageKeys()
    {
        var keys = QuotedKey().Matches(AdoNetGrainStorage.DefaultInitializationQuery).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey", "DeleteStorageKey"], keys);
        return keys;
    }

    /// <summary>Whether the assembly's user strings (UTF-16 in its metadata) hold the text.</summary>
    private static bool MentionsString(Assembly assembly, string text) =>
        File.ReadAllBytes(assembly.Location).AsSpan().IndexOf(Encoding.Unicode.GetBytes(text)) >= 0;

    [GeneratedRegex("'(\\w+)'")]
    private static partial Regex QuotedKey();
}
