using System.Diagnostics.Tracing;
using System.Globalization;

namespace OrleansScheduler.Bench;

/// <summary>What the runtime allocates and collects during a run, from its own events in this
/// process (an EventListener on Microsoft-Windows-DotNETRuntime, GC keyword), for `--profile`:
/// GCAllocationTick names the type whose allocation crossed each ~100 KB of allocation (a sample
/// proportional to bytes allocated), GCStart gives each collection's generation and reason, and
/// GCHeapStats the bytes promoted out of gen0 and gen1 (what makes a collection expensive).</summary>
public sealed class RuntimeProfile : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    // Initialised before the base constructor runs, which reports the existing sources.
    private readonly Dictionary<string, long> _bytesByType = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _collections = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _promoted0;
    private long _promoted1;
    private long _heapStats;
    private long _gen2Size;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.Payload is null || eventData.PayloadNames is null)
        {
            return;
        }

        lock (_lock)
        {
            switch (eventData.EventName)
            {
                case "GCAllocationTick_V4":
                case "GCAllocationTick_V3":
                    var type = Field(eventData, "TypeName") as string ?? "?";
                    _bytesByType[type] = _bytesByType.GetValueOrDefault(type) + Convert.ToInt64(Field(eventData, "AllocationAmount64") ?? Field(eventData, "AllocationAmount") ?? 0L, CultureInfo.InvariantCulture);
                    break;
                case "GCStart_V2":
                    var key = $"gen{Field(eventData, "Depth")} ({Reason(Convert.ToInt32(Field(eventData, "Reason"), CultureInfo.InvariantCulture))})";
                    _collections[key] = _collections.GetValueOrDefault(key) + 1;
                    break;
                case "GCHeapStats_V2":
                    _promoted0 += Convert.ToInt64(Field(eventData, "TotalPromotedSize0"), CultureInfo.InvariantCulture);
                    _promoted1 += Convert.ToInt64(Field(eventData, "TotalPromotedSize1"), CultureInfo.InvariantCulture);
                    _gen2Size = Convert.ToInt64(Field(eventData, "GenerationSize2"), CultureInfo.InvariantCulture);
                    _heapStats++;
                    break;
            }
        }
    }

    /// <summary>The profile as lines: top types by sampled bytes per task, collections by kind, and
    /// the bytes promoted per collection.</summary>
    public List<string> Summary(int tasks, int top = 15)
    {
        lock (_lock)
        {
            var total = _bytesByType.Values.Sum();
            var lines = new List<string>
            {
                $"allocation samples: {total / 1048576.0:N0} MB sampled, {(double)total / tasks / 1024:F1} KB per task; top types (KB per task, share):",
            };
            lines.AddRange(_bytesByType.OrderByDescending(t => t.Value).Take(top)
                .Select(t => $"  {(double)t.Value / tasks / 1024,6:F2} KB  {100.0 * t.Value / Math.Max(1, total),5:F1} %  {t.Key}"));
            lines.Add("collections: " + string.Join(", ", _collections.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}")));
            if (_heapStats > 0)
            {
                lines.Add($"promoted per collection: gen0->gen1 {_promoted0 / _heapStats / 1024.0:N0} KB, gen1->gen2 {_promoted1 / _heapStats / 1024.0:N0} KB; gen2 at the end {_gen2Size / 1048576.0:N0} MB");
            }

            return lines;
        }
    }

    private static object? Field(EventWrittenEventArgs e, string name)
    {
        var index = e.PayloadNames!.IndexOf(name);
        return index >= 0 ? e.Payload![index] : null;
    }

    /// <summary>GCStart's reason codes (the runtime's gc_reason).</summary>
    private static string Reason(int reason) => reason switch
    {
        0 => "small alloc",
        1 => "induced",
        2 => "low memory",
        3 => "empty",
        4 => "large alloc",
        5 => "oos soh",
        6 => "oos loh",
        7 => "induced noforce",
        8 => "stress",
        9 => "low memory blocking",
        10 => "induced compacting",
        11 => "low memory host",
        12 => "pm full gc",
        13 => "low memory host blocking",
        14 => "bgc tuning soh",
        15 => "bgc tuning loh",
        16 => "bgc stepping",
        _ => reason.ToString(CultureInfo.InvariantCulture),
    };
}
