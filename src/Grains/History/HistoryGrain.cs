using Microsoft.Extensions.Options;

namespace OrleansScheduler.Grains.History;

/// <summary>The dashboard's history and graphs, read from the counters, samples and edges the silo
/// writes: a stateless worker on every silo, like the catalog.</summary>
[StatelessWorker]
internal sealed class HistoryGrain(HistoryReadModel reads, IOptions<HistoryOptions> options, TimeProvider timeProvider) : Grain, IHistoryGrain
{
    public const int MaxMinutes = 60;
    public const int MaxDepth = 10;
    public const int MaxNodes = 500;

    public async Task<StatsHistory> GetHistoryAsync(int minutes, int stepSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minutes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minutes, MaxMinutes);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSeconds, 1);

        // Intervals aligned on the step, the last one the interval under way.
        var now = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var end = (now / stepSeconds + 1) * stepSeconds;
        var count = (int)Math.Ceiling(minutes * 60.0 / stepSeconds);
        var start = end - ((long)count * stepSeconds);
        var completed = new long[count];
        var failed = new long[count];
        foreach (var (second, n) in await reads.CompletionsSinceAsync(start).ConfigureAwait(true))
        {
            Add(completed, second, n);
        }

        foreach (var (second, n) in await reads.FailuresSinceAsync(start).ConfigureAwait(true))
        {
            Add(failed, second, n);
        }

        var depth = await reads.QueueDepthSinceAsync(start).ConfigureAwait(true);
        return new StatsHistory(
            DateTimeOffset.FromUnixTimeSeconds(start),
            DateTimeOffset.FromUnixTimeSeconds(end),
            stepSeconds,
            (int)options.Value.SampleInterval.TotalSeconds,
            completed.Sum(),
            failed.Sum(),
            Enumerable.Range(0, count).Select(i => new ThroughputPoint(DateTimeOffset.FromUnixTimeSeconds(start + ((long)i * stepSeconds)), completed[i], failed[i])).ToList(),
            depth);

        void Add(long[] into, long second, long n)
        {
            var i = (second - start) / stepSeconds;
            if (i >= 0 && i < count)
            {
                into[i] += n;
            }
        }
    }

    public Task<RunTimeHistogram> GetRunTimesAsync() => reads.RunTimesAsync();

    public Task<TaskGraph?> GetGraphAsync(string id, int depth, int maxNodes)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, MaxDepth);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNodes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxNodes, MaxNodes);
        return TaskGraphBuilder.BuildAsync(reads, id, depth, maxNodes, timeProvider.GetUtcNow());
    }
}
