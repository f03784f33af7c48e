using System.Globalization;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The words of blocked_by and the figures of /api/stats, the same whichever engine read
/// the rows they are made from.</summary>
internal static class BlockedByReasons
{
    /// <summary>The reminder reason that marks a retry's backoff (rather than a run_at).</summary>
    public const string BackoffOver = "retry backoff over";

    public const string RunAtReached = "run_at reached";

    private const int Listed = 10;

    public static BlockedBy Dependencies(IReadOnlyList<DependencyState> dependencies)
    {
        var unfinished = dependencies.Where(d => d.Status != TaskStatus.Completed).ToList();
        return new BlockedBy(
            "dependencies",
            $"waiting for {unfinished.Count} of {dependencies.Count} dependencies to complete: {List(unfinished.Select(d => $"{d.Id} ({d.Status.ToName()})").ToList())}",
            Dependencies: unfinished);
    }

    /// <param name="reason">The pending 'ready' reminder's reason, null when none was found.</param>
    public static BlockedBy Reminder(DateTimeOffset? until, string? reason)
    {
        var when = until?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        return reason == BackoffOver
            ? new BlockedBy("backoff", $"retry backoff after a failed attempt; next attempt at {when}", Until: until)
            : new BlockedBy("run_at", $"scheduled to run at {when}", Until: until);
    }

    public static BlockedBy Slots(SlotsView slots)
    {
        if (slots.InUse >= slots.Limit)
        {
            var holders = slots.Holders.Select(h => h.TaskId).ToList();
            return new BlockedBy("slots", $"ready; all {slots.Limit} slots are held, by {List(holders)}", SlotHolders: holders);
        }

        return new BlockedBy("slots", $"ready; {slots.Limit - slots.InUse} of {slots.Limit} slots are free and a silo is about to claim one", SlotHolders: []);
    }

    /// <summary>Nearest-rank percentile; sorts <paramref name="values"/>.</summary>
    public static double? Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return null;
        }

        values.Sort();
        return values[(int)Math.Min(values.Count - 1, Math.Ceiling(p * values.Count) - 1)];
    }

    private static string List(IReadOnlyList<string> items) =>
        string.Join(", ", items.Take(Listed)) + (items.Count > Listed ? $" and {items.Count - Listed} more" : "");
}
