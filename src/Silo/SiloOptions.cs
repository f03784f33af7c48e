namespace OrleansScheduler.Silo;

/// <summary>One silo's settings, bound from the "Silo" section.</summary>
public sealed class SiloOptions
{
    public const string SectionName = "Silo";

    /// <summary>This silo's name in the cluster; generated from host and process id when empty.</summary>
    public string? SiloId { get; set; }

    /// <summary>Whether this process hosts a silo at all (WebApi: false makes a pure front end).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Most attempts this silo runs at once; the cluster-wide slot limit applies on top.</summary>
    public int Capacity { get; set; } = 256;

    /// <summary>Most tasks claimed in one turn.</summary>
    public int ClaimBatchSize { get; set; } = 256;

    /// <summary>Fallback poll when no wake-up event arrives; wake-ups are events, this only bounds
    /// how long a missed one could matter.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the silo heartbeats and renews its attempts' leases; keep it well under
    /// Scheduler:LeaseDuration (a third or less) so a slow heartbeat does not lose a lease.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>On a graceful stop, how long in-flight attempts may run on before they are
    /// cancelled and handed back to the queue.</summary>
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    public string ResolveSiloId() =>
        string.IsNullOrWhiteSpace(SiloId)
            ? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}"
            : SiloId;

    public void Validate()
    {
        if (Capacity is < 1 or > 100_000)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(Capacity)} must be from 1 to 100000, not {Capacity}.");
        }

        if (ClaimBatchSize is < 1 or > 10_000)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(ClaimBatchSize)} must be from 1 to 10000, not {ClaimBatchSize}.");
        }

        if (PollInterval <= TimeSpan.Zero || HeartbeatInterval <= TimeSpan.Zero || ShutdownGracePeriod < TimeSpan.Zero)
        {
            throw new InvalidOperationException(
                $"{SectionName}: {nameof(PollInterval)} and {nameof(HeartbeatInterval)} must be positive, {nameof(ShutdownGracePeriod)} not negative.");
        }
    }
}
