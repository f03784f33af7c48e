namespace OrleansScheduler.Grains.History;

/// <summary>The dashboard's history (issue 10, point 7), bound from the "History" section.</summary>
public sealed class HistoryOptions
{
    public const string SectionName = "History";

    /// <summary>How long the per-second counters and the queue-depth samples are kept; the history
    /// endpoint offers at most this window.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    public static readonly TimeSpan DefaultSampleInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often each silo samples the queue depth by status (one small INSERT ... SELECT
    /// over status_counts, whatever the number of tasks).</summary>
    public TimeSpan SampleInterval { get; set; } = DefaultSampleInterval;

    public void Validate()
    {
        if (SampleInterval < TimeSpan.FromSeconds(1) || SampleInterval > TimeSpan.FromMinutes(1))
        {
            throw new InvalidOperationException(
                $"{SectionName}:{nameof(SampleInterval)} (History__SampleInterval) must be from 00:00:01 to 00:01:00, not {SampleInterval}.");
        }
    }
}
