using Orleans;

namespace OrleansScheduler.WebApi.Telemetry;

/// <summary>The catalog's stats (counters by status, slots, silos: a fixed number of rows, whatever
/// the number of tasks), read at most once per <see cref="MaxAge"/>, so neither a scrape of /metrics
/// nor the alert rules cost a query that grows with the tasks, and several scrapers share a read.</summary>
public sealed class StatsSnapshot(IGrainFactory grains, TimeProvider timeProvider)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    /// <summary>How long a scrape waits for fresh figures before it reports the last ones.</summary>
    private static readonly TimeSpan RefreshWait = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private volatile Snapshot? _last;

    /// <summary>The last figures read, or null before the first read.</summary>
    public SchedulerStats? Last => _last?.Stats;

    /// <summary>Figures at most <see cref="MaxAge"/> old (read now if older).</summary>
    public async Task<SchedulerStats> GetAsync(CancellationToken cancellationToken = default)
    {
        if (_last is { } fresh && timeProvider.GetElapsedTime(fresh.ReadAt) < MaxAge)
        {
            return fresh.Stats;
        }

        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_last is { } other && timeProvider.GetElapsedTime(other.ReadAt) < MaxAge)
            {
                return other.Stats;
            }

            var stats = await grains.GetCatalogGrain().GetStatsAsync().ConfigureAwait(false);
            _last = new Snapshot(stats, timeProvider.GetTimestamp());
            return stats;
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>For the metric callbacks, which are synchronous: fresh figures if they come within a
    /// moment, else the last ones (null before any), so a scrape never fails on a slow cluster.</summary>
    public SchedulerStats? GetForScrape()
    {
        try
        {
            var read = GetAsync();
            return read.Wait(RefreshWait) ? read.Result : Last;
        }
        catch (AggregateException)
        {
            // The cluster did not answer (no silo, the store down): the last figures stand.
            return Last;
        }
    }

    private sealed record Snapshot(SchedulerStats Stats, long ReadAt);
}
