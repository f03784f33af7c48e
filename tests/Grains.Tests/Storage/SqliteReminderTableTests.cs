using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Storage.Sqlite;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

/// <summary>Our <see cref="IReminderTable"/> on SQLite keeps Orleans' contract, as Orleans' own
/// ReminderTableTestsBase checks it for every provider: upsert and read, etags that change with
/// every upsert and fence a removal, and the ring ranges a silo reads, wrapping past the top.</summary>
public sealed class SqliteReminderTableTests(TempFolder folder) : IClassFixture<TempFolder>, IAsyncLifetime
{
    private SqliteDatabase? _database;

    private IReminderTable Table => new SqliteReminderTable(_database!);

    public async Task InitializeAsync()
    {
        _database = new SqliteDatabase(new StorageOptions { DatabaseUrl = folder.File(Guid.NewGuid().ToString("N") + ".db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        await _database.OpenAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await _database!.DisposeAsync();

    [Fact]
    public async Task A_reminder_is_upserted_read_and_removed_only_with_its_current_etag()
    {
        var reminder = Reminder(NewGrain(), "foo/bar\\#b_a_z?");
        var firstEtag = await Table.UpsertRow(reminder);

        var read = await Table.ReadRow(reminder.GrainId, reminder.ReminderName);
        Assert.NotNull(read);
        Assert.Equal((firstEtag, reminder.GrainId, reminder.ReminderName, reminder.Period, reminder.StartAt),
            (read.ETag, read.GrainId, read.ReminderName, read.Period, read.StartAt));
        Assert.Equal(DateTimeKind.Utc, read.StartAt.Kind);

        reminder.StartAt = reminder.StartAt.AddMinutes(1);
        reminder.Period = TimeSpan.FromSeconds(90);
        var secondEtag = await Table.UpsertRow(reminder);
        Assert.NotEqual(firstEtag, secondEtag);
        var updated = await Table.ReadRow(reminder.GrainId, reminder.ReminderName);
        Assert.Equal((secondEtag, reminder.StartAt, reminder.Period), (updated!.ETag, updated.StartAt, updated.Period));
        Assert.Single((await Table.ReadRows(reminder.GrainId)).Reminders);

        Assert.False(await Table.RemoveRow(reminder.GrainId, reminder.ReminderName, firstEtag!), "removed with a stale etag");
        Assert.False(await Table.RemoveRow(reminder.GrainId, "other", secondEtag!), "removed a reminder of another name");
        Assert.True(await Table.RemoveRow(reminder.GrainId, reminder.ReminderName, secondEtag!));
        Assert.False(await Table.RemoveRow(reminder.GrainId, reminder.ReminderName, secondEtag!), "removed twice");
        Assert.Null(await Table.ReadRow(reminder.GrainId, reminder.ReminderName));
        Assert.Null(await Table.ReadRow(NewGrain(), "never"));
    }

    [Fact]
    public async Task Concurrent_upserts_of_one_reminder_each_get_an_etag_of_their_own()
    {
        var upserts = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
        {
            var grain = NewGrain();
            var startAt = DateTime.UtcNow;
            return Task.WhenAll(Enumerable.Range(1, 5).Select(j =>
            {
                var reminder = Reminder(grain, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                reminder.StartAt = startAt.AddMilliseconds(j);
                return Table.UpsertRow(reminder);
            }));
        }));

        Assert.All(upserts, etags => Assert.Equal(5, etags.Distinct().Count()));
    }

    [Fact]
    public async Task A_range_of_the_ring_holds_the_reminders_whose_grain_hashes_it_covers_wrapping_past_the_top()
    {
        var grains = Enumerable.Range(0, 200).Select(_ => NewGrain()).ToList();
        await Task.WhenAll(grains.Select((g, i) => Table.UpsertRow(Reminder(g, $"r{i}"))));
        var hashes = grains.Select(g => g.GetUniformHashCode()).ToArray();

        Assert.Equal(200, (await Table.ReadRows(0, uint.MaxValue)).Reminders.Count);
        Assert.Equal(200, (await Table.ReadRows(0, 0)).Reminders.Count);

        var random = new Random(20261201);
        var ranges = Enumerable.Range(0, 100).Select(_ => ((uint)random.NextInt64(0, uint.MaxValue + 1L), (uint)random.NextInt64(0, uint.MaxValue + 1L))).ToList();
        ranges.AddRange([(hashes[0], hashes[0]), (hashes[1] - 1, hashes[1]), (uint.MaxValue - 1, 1u), (hashes.Max(), hashes.Min())]);
        foreach (var (begin, end) in ranges)
        {
            var expected = begin < end
                ? hashes.Where(h => h > begin && h <= end)
                : hashes.Where(h => h > begin || h <= end);
            var returned = (await Table.ReadRows(begin, end)).Reminders.Select(r => r.GrainId.GetUniformHashCode());
            Assert.True(expected.ToHashSet().SetEquals(returned), $"range ({begin}, {end}]: expected {expected.Count()} reminders, got {returned.Count()}");
        }
    }

    private static GrainId NewGrain() =>
        GrainId.Create(GrainType.Create("my-remindable-grain"), GrainIdKeyExtensions.CreateGuidKey(Guid.NewGuid(), "foo/bar\\#baz?"));

    private static ReminderEntry Reminder(GrainId grain, string name)
    {
        var now = DateTime.UtcNow;
        return new ReminderEntry
        {
            GrainId = grain,
            ReminderName = name,
            Period = TimeSpan.FromMinutes(1),
            StartAt = new DateTime(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, DateTimeKind.Utc),
        };
    }
}
