using OrleansScheduler.Grains.Tests.OrleansAdoNet;
using OrleansScheduler.Testing;

namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>The catalog's reads (listings, counters) and the other storage a silo offers.</summary>
public abstract partial class TaskGrainContract
{
    [SkippableFact]
    public async Task Listing_pages_by_cursor_cover_every_task_once_in_submission_order_with_filters()
    {
        var catalog = Grains.GetCatalogGrain();
        var (even, odd) = (Id("even"), Id("odd"));
        var ids = Enumerable.Range(0, 23).Select(i => Id($"t{i:00}")).ToList();
        var later = Cluster.Clock.GetUtcNow().AddHours(1);
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            // SCHEDULED an hour ahead, so every row keeps its status while the test reads.
            await SubmitAsync(Sim(id) with { Type = i % 2 == 0 ? even : odd, RunAt = later });
        }

        var seen = new List<string>();
        long? after = null;
        var pages = 0;
        do
        {
            var page = await catalog.ListAsync(new TaskQuery(null, even, 5, after, 0));
            Assert.True(page.Items.Count <= 5);
            seen.AddRange(page.Items.Select(t => t.Id));
            after = page.NextCursor;
            pages++;
            Assert.True(pages <= 10, $"paging does not end; seen {string.Join(",", seen)}");
        }
        while (after is not null);

        Assert.Equal(ids.Where((_, i) => i % 2 == 0), seen);
        Assert.Equal(3, pages);

        var odds = await catalog.ListAsync(new TaskQuery(TaskStatus.Scheduled, odd, 100, null, 0));
        Assert.Equal(ids.Where((_, i) => i % 2 == 1), odds.Items.Select(t => t.Id));
        Assert.All(odds.Items, t => Assert.Equal((TaskStatus.Scheduled, 0), (t.Status, t.Attempts)));
        Assert.Null(odds.NextCursor);
        Assert.Empty((await catalog.ListAsync(new TaskQuery(TaskStatus.Queued, odd, 100, null, 0))).Items);

        var offset = await catalog.ListAsync(new TaskQuery(null, odd, 4, null, 3));
        Assert.Equal(ids.Where((_, i) => i % 2 == 1).Skip(3).Take(4), offset.Items.Select(t => t.Id));

        // Newest first: the cursor continues with older tasks, and the filters still apply.
        var newest = new List<string>();
        after = null;
        do
        {
            var page = await catalog.ListAsync(new TaskQuery(null, even, 5, after, 0) { NewestFirst = true });
            newest.AddRange(page.Items.Select(t => t.Id));
            after = page.NextCursor;
            Assert.True(newest.Count <= ids.Count, $"newest-first paging does not end; seen {string.Join(",", newest)}");
        }
        while (after is not null);

        Assert.Equal(ids.Where((_, i) => i % 2 == 0).Reverse(), newest);
        foreach (var id in ids)
        {
            await Grain(id).CancelAsync();
        }
    }

    [SkippableFact]
    public async Task Stats_count_every_status_as_the_rows_have_it()
    {
        var (ok, failed, doomed, later, gate) = (Id("ok"), Id("failed"), Id("doomed"), Id("later"), Id("gate"));
        await Grains.GetCatalogGrain().SubmitBatchAsync([
            Sim(ok), Sim(failed) with { MaxAttempts = 1, Payload = Json("""{"simulate":{"fail_attempts":1}}""") }, Sim(doomed, failed),
            Sim(later) with { RunAt = Cluster.Clock.GetUtcNow().AddHours(1) }, Gate(gate)]);
        await WaitForStatusAsync(ok, TaskStatus.Completed);
        await WaitForStatusAsync(doomed, TaskStatus.UpstreamFailed);
        await WaitUntilRunningAsync(gate);

        // The counters are maintained with every write; they must say what the rows say. Other
        // tests' tasks may still be moving, so compare until both reads agree.
        var stats = await Poll.UntilAsync("the counters match the statuses of the rows",
            async () => (Stats: await Grains.GetCatalogGrain().GetStatsAsync(), Rows: await CountRowsAsync()),
            seen => seen.Rows.SequenceEqual(Enum.GetValues<TaskStatus>().Select(s => seen.Stats.Counts.GetValueOrDefault(s))),
            seen => $"counters [{string.Join(", ", seen.Stats.Counts.Select(c => $"{c.Key.ToName()}={c.Value}"))}], rows [{string.Join(", ", seen.Rows)}]");

        Assert.Equal(stats.Rows.Sum(), stats.Stats.Total);
        Assert.Equal(stats.Stats.Total, await Cluster.ScalarAsync<long>("SELECT count(*) FROM tasks"));
        Assert.Equal(Limit, stats.Stats.Slots.Limit);
        Assert.Contains(stats.Stats.Slots.Holders, h => h.TaskId == gate);
        Assert.Equal(fixture.Cluster.TestCluster.Silos.Count, stats.Stats.SilosAlive);
        Assert.True(stats.Stats.Throughput.CompletedLastMinute >= 1);
        await Grain(later).CancelAsync();
    }

    [SkippableFact]
    public async Task Orleans_adonet_grain_storage_works_inside_the_scheduler_silo()
    {
        var key = Id("adonet");
        var grain = Grains.GetGrain<IStringStateProbeGrain>(key);

        Assert.Equal("1", (await grain.Write("first")).ETag);
        Assert.Equal("2", (await grain.Write("second")).ETag);
        await grain.Deactivate();
        await Cluster.TestCluster.WaitForDeactivationAsync(grain);

        var read = await grain.Read();
        Assert.Equal(("second", 2, "2", true), (read.Text, read.Writes, read.ETag, read.RecordExists));
        Assert.Equal(1L, await Cluster.ScalarAsync<long>("SELECT count(*) FROM orleans_storage WHERE version = 2 AND payload IS NOT NULL"));
    }

    private async Task<long[]> CountRowsAsync()
    {
        var rows = await Cluster.RowsAsync("SELECT status, count(*) FROM tasks GROUP BY status");
        var counts = rows.ToDictionary(r => TaskStatusNames.Parse((string)r[0]!), r => Convert.ToInt64(r[1], System.Globalization.CultureInfo.InvariantCulture));
        return Enum.GetValues<TaskStatus>().Select(s => counts.GetValueOrDefault(s)).ToArray();
    }
}
