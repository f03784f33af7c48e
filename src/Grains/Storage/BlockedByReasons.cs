using System.Globalization;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The words of blocked_by and the figures of /api/stats, the same whichever engine read
/// the rows they are made from.</summary>
internal static class BlockedByReasons
{
    private const int Listed = 10;

    public static BlockedBy Dependencies(IReadOnlyList<DependencyState> dependencies)
    {
        var unfinished = dependencies.Where(d => d.Status != TaskStatus.Completed).ToList();
        return new BlockedBy(
            "dependencies",
            $"waiting for {unfinished.Count} of {dependencies.Count} dependencies to complete: {List(unfinished.Select(d => $"{d.Id} ({d.Status.ToName()})").ToList())}",
            Dependencies: unfinished);
    }

    /// <summary>A SCHEDULED task: waiting for its run_at, or for a retry's backoff to end.</summary>
    public static BlockedBy Due(DateTimeOffset? until, string? dueKind)
    {
        var when = until?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        return dueKind == Tasks.DueKinds.Backoff
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

        return new BlockedBy("slots", $"ready; {slots.Limit - slots.InUse} of {slots.Limit} slots are free and the ConcurrencyGrain is about to grant one", SlotHolders: []);
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
