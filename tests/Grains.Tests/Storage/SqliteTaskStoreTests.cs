using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

/// <summary>The store contract on a real SQLite file (one per test, in this class's temp folder),
/// plus what only the single-process SQLite engine does: start-up recovery and the lock file.</summary>
public sealed class SqliteTaskStoreTests(TempFolder folder) : TaskStoreContract, IClassFixture<TempFolder>
{
    protected override async Task<ITaskStore> OpenStoreAsync(string database, int maxConcurrentTasks, TimeProvider clock)
    {
        var store = Create(folder.File(database + ".db"), maxConcurrentTasks, clock);
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    [Fact]
    public async Task Reopening_after_a_crash_requeues_running_attempts_and_counts_them()
    {
        var path = folder.File(nameof(Reopening_after_a_crash_requeues_running_attempts_and_counts_them) + ".db");
        await using (var crashed = Create(path, 3))
        {
            await crashed.InitializeAsync(None);
            await crashed.SubmitAsync(Specs.Plan(
                Specs.Task("again") with { MaxAttempts = 3, RetryBackoffMs = 0 },
                Specs.Task("last-try") with { MaxAttempts = 1 },
                Specs.Task("child", "last-try"),
                Specs.Task("waiting-on-again", "again"),
                Specs.Task("still-queued") with { Priority = 1 }), None);
            var leases = await crashed.ClaimAsync(SiloA, 2, None);
            Assert.Equal(["again", "last-try"], leases.Select(l => l.TaskId).Order(StringComparer.Ordinal));

            // The process dies here: no report, no hand-back. Disposing only closes the files.
        }

        await using var reopened = Create(path, 3);
        await reopened.InitializeAsync(None);

        var again = await GetAsync(reopened, "again");
        Assert.Equal((TaskStatus.Queued, 1), (again.Status, again.Attempts));
        var recovery = (await reopened.GetEventsAsync("again", None))![^1];
        Assert.Equal((TaskStatus.Running, TaskStatus.Queued, SiloA, 1), (recovery.From, recovery.To, recovery.SiloId, recovery.Attempt));
        Assert.Contains("recovered", recovery.Reason, StringComparison.Ordinal);

        var lastTry = await GetAsync(reopened, "last-try");
        Assert.Equal((TaskStatus.Failed, 1), (lastTry.Status, lastTry.Attempts));
        Assert.Contains("lost", lastTry.Error, StringComparison.Ordinal);
        Assert.Equal(TaskStatus.UpstreamFailed, (await GetAsync(reopened, "child")).Status);
        Assert.Equal(TaskStatus.Waiting, (await GetAsync(reopened, "waiting-on-again")).Status);
        Assert.Equal(TaskStatus.Queued, (await GetAsync(reopened, "still-queued")).Status);

        var slots = await reopened.GetSlotsAsync(None);
        Assert.Equal((3, 0), (slots.Limit, slots.InUse));
        await AssertCountersMatchAsync(reopened);

        // The lost attempt counted: the next one is attempt 2, and a report from the dead process's
        // attempt 1 is stale.
        var next = (await reopened.ClaimAsync(SiloB, 3, None)).Single(l => l.TaskId == "again");
        Assert.Equal(2, next.Attempt);
        Assert.False(await reopened.ReportAsync(
            AttemptOutcome.Success(next with { Attempt = 1, SiloId = SiloA }, null), None));
        Assert.True(await reopened.ReportAsync(AttemptOutcome.Success(next, null), None));
        Assert.Equal(TaskStatus.Queued, (await GetAsync(reopened, "waiting-on-again")).Status);
    }

    [Fact]
    public async Task Everything_a_turn_acknowledged_is_there_after_reopening()
    {
        var path = folder.File(nameof(Everything_a_turn_acknowledged_is_there_after_reopening) + ".db");
        await using (var first = Create(path, 2))
        {
            await first.InitializeAsync(None);
            await first.SubmitAsync(Specs.Plan(Specs.Task("a"), Specs.Task("b", "a")), None);
            await CompleteAsync(first, "a");
        }

        await using var second = Create(path, 2);
        await second.InitializeAsync(None);

        Assert.Equal(TaskStatus.Completed, (await GetAsync(second, "a")).Status);
        Assert.Equal(TaskStatus.Queued, (await GetAsync(second, "b")).Status);
        Assert.Equal(2, (await second.GetStatsAsync(None)).Total);
    }

    [Fact]
    public async Task Reopening_with_a_new_limit_resizes_the_slots()
    {
        var path = folder.File(nameof(Reopening_with_a_new_limit_resizes_the_slots) + ".db");
        await using (var first = Create(path, 2))
        {
            await first.InitializeAsync(None);
            await first.SubmitAsync(Specs.Plan(Enumerable.Range(0, 6).Select(i => Specs.Task($"t{i}") with { RetryBackoffMs = 0 }).ToArray()), None);
            Assert.Equal(2, (await first.ClaimAsync(SiloA, 10, None)).Count);
        }

        await using var second = Create(path, 5);
        await second.InitializeAsync(None);

        Assert.Equal(5, (await second.GetSlotsAsync(None)).Limit);
        Assert.Equal(5, (await second.ClaimAsync(SiloB, 10, None)).Count);
        Assert.Empty(await second.ClaimAsync(SiloB, 10, None));
    }

    [Fact]
    public async Task A_second_store_on_an_open_file_fails_with_a_clear_error()
    {
        var path = folder.File(nameof(A_second_store_on_an_open_file_fails_with_a_clear_error) + ".db");
        var first = Create(path, 3);
        await first.InitializeAsync(None);
        await first.SubmitAsync(Specs.Plan(Specs.Task("a")), None);
        _ = Assert.Single(await first.ClaimAsync(SiloA, 1, None));

        await using (var second = Create(path, 3))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second.InitializeAsync(None));
            Assert.Contains(".lock", error.Message, StringComparison.Ordinal);
            Assert.Contains("DATABASE_URL", error.Message, StringComparison.Ordinal);
        }

        // The failed opener did not recover (and so steal) the first store's live attempt.
        var task = await GetAsync(first, "a");
        Assert.Equal((TaskStatus.Running, 1), (task.Status, task.Attempts));

        await first.DisposeAsync();
        await using var third = Create(path, 3);
        await third.InitializeAsync(None);
        Assert.NotNull(await third.GetAsync("a", None));
    }

    [Fact]
    public async Task The_schema_version_records_every_migration_in_sql_sqlite()
    {
        var store = await NewStoreAsync();
        var path = ((SqliteTaskStore)store).DatabasePath;

        var expected = Directory.GetFiles(Path.Combine(RepoRoot(), "sql", "sqlite"), "*.sql")
            .Select(f => Path.GetFileName(f))
            .Order(StringComparer.Ordinal)
            .ToList();
        var applied = new List<string>();
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT version, name FROM schema_version ORDER BY version";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                applied.Add(reader.GetString(1));
                Assert.StartsWith(reader.GetInt64(0).ToString("0000", System.Globalization.CultureInfo.InvariantCulture) + "_", reader.GetString(1), StringComparison.Ordinal);
            }
        }

        Assert.NotEmpty(expected);
        Assert.Equal(expected, applied);
    }

    [Fact]
    public void Database_urls_in_the_seeds_forms_name_a_file()
    {
        Assert.Equal("data/x.db", SqliteTaskStore.PathFromUrl("data/x.db"));
        Assert.Equal("/tmp/x.db", SqliteTaskStore.PathFromUrl("sqlite:///tmp/x.db"));
        Assert.Equal("x.db", SqliteTaskStore.PathFromUrl("sqlite:x.db"));
        Assert.Equal("/tmp/x.db", SqliteTaskStore.PathFromUrl("file:/tmp/x.db"));
        Assert.Equal("/tmp/x.db", SqliteTaskStore.PathFromUrl("Data Source=/tmp/x.db"));
    }

    internal static SqliteTaskStore Create(string path, int maxConcurrentTasks, TimeProvider? clock = null) =>
        new(
            Options.Create(new StorageOptions { DatabaseUrl = path }),
            Options.Create(new SchedulerOptions { MaxConcurrentTasks = maxConcurrentTasks }),
            clock ?? TimeProvider.System,
            new WorkSignal(),
            NullLogger<SqliteTaskStore>.Instance);

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansScheduler.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No OrleansScheduler.sln above {AppContext.BaseDirectory}");
    }
}
