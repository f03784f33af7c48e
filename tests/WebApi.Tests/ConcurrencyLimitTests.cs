using System.Globalization;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests;

/// <summary>Issue 2's limit test: 12 tasks of 300 ms under the default limit of 3. Judged from each
/// task's recorded started_at and completed_at, not from the wall clock: the largest number of
/// attempts whose [started_at, completed_at) intervals overlap must be exactly 3.</summary>
public sealed class ConcurrencyLimitTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [Fact]
    public async Task Twelve_tasks_never_run_more_than_three_at_once_and_do_run_three_together()
    {
        using var api = app.Api();
        Assert.Equal(3, (int)(await api.GetStatsAsync())["slots"]!["limit"]!);
        var ids = Enumerable.Range(1, 12).Select(i => $"limit-{i:00}").ToList();
        foreach (var id in ids)
        {
            await api.SubmitAsync(new { id, type = "limit-test", duration_ms = 300 });
        }

        var done = await api.WaitForStatusAsync(ids, "COMPLETED");

        var intervals = ids.Select(id =>
        {
            var task = done[id];
            Assert.Equal(1, (int)task["attempts"]!);
            var start = DateTimeOffset.Parse((string)task["started_at"]!, CultureInfo.InvariantCulture);
            var end = DateTimeOffset.Parse((string)task["completed_at"]!, CultureInfo.InvariantCulture);
            Assert.True(end > start, $"{id} ran from {start:O} to {end:O}");
            return (Id: id, Start: start, End: end);
        }).ToList();

        var (overlap, at) = MaxOverlap(intervals);
        var timeline = string.Join("; ", intervals.OrderBy(i => i.Start).Select(i => $"{i.Id} {i.Start:HH:mm:ss.fff}-{i.End:HH:mm:ss.fff}"));
        Assert.True(overlap <= 3, $"{overlap} tasks ran together at {at:HH:mm:ss.fff}: {timeline}");
        Assert.True(overlap == 3, $"at most {overlap} tasks ran together; the limit of 3 was never used: {timeline}");
    }

    /// <summary>Sweeps the interval ends in time order; at one instant an end is counted before a
    /// start, since a slot freed and re-claimed in the same commit is not two tasks at once.</summary>
    private static (int Max, DateTimeOffset At) MaxOverlap(IEnumerable<(string Id, DateTimeOffset Start, DateTimeOffset End)> intervals)
    {
        var edges = intervals
            .SelectMany(i => new[] { (At: i.Start, Delta: 1), (At: i.End, Delta: -1) })
            .OrderBy(e => e.At)
            .ThenBy(e => e.Delta);
        int current = 0, max = 0;
        var when = DateTimeOffset.MinValue;
        foreach (var (time, delta) in edges)
        {
            current += delta;
            if (current > max)
            {
                (max, when) = (current, time);
            }
        }

        return (max, when);
    }
}
