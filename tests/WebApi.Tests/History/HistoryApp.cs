using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.History;

/// <summary>A scheduler of its own (so its counters hold only what its tests ran) that samples the
/// queue depth every second.</summary>
public sealed class HistoryApp : SchedulerApp
{
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["History:SampleInterval"] = "00:00:01",
    };
}
