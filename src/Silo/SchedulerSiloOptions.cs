namespace OrleansScheduler.Silo;

/// <summary>One silo's settings, bound from the "Silo" section (SILO_ID sets <see cref="SiloId"/>).</summary>
public sealed class SchedulerSiloOptions
{
    public const string SectionName = "Silo";

    /// <summary>This silo's name in the cluster (Orleans' silo name); generated from host and process
    /// id when empty.</summary>
    public string? SiloId { get; set; }

    /// <summary>Whether this process hosts a silo at all (WebApi: false makes a pure front end, an
    /// Orleans client of the silos on the same PostgreSQL database).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Orleans' silo-to-silo port; 0 picks a free one, so several silos start side by side
    /// on one machine with no port settings.</summary>
    public int SiloPort { get; set; }

    /// <summary>Orleans' gateway port for clients (front ends); 0 picks a free one.</summary>
    public int GatewayPort { get; set; }

    /// <summary>The address other silos and clients reach this one at (a cluster across machines
    /// sets the machine's own).</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Orleans' cluster id: silos and front ends with the same id and database form one
    /// cluster (several clusters may share a database).</summary>
    public string ClusterId { get; set; } = "orleans-scheduler";

    /// <summary>On a graceful stop, how long in-flight attempts may run on before they are
    /// cancelled and handed back to the queue.</summary>
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    public string ResolveSiloId() =>
        string.IsNullOrWhiteSpace(SiloId)
            ? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}"
            : SiloId;

    public void Validate()
    {
        if (SiloPort is < 0 or > 65535 || GatewayPort is < 0 or > 65535)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(SiloPort)} and {nameof(GatewayPort)} must be ports (0 picks a free one).");
        }

        if (!System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(AdvertisedAddress)} must be an IP address, not '{AdvertisedAddress}'.");
        }

        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(ClusterId)} must not be empty.");
        }

        if (ShutdownGracePeriod < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(ShutdownGracePeriod)} must not be negative.");
        }
    }
}
