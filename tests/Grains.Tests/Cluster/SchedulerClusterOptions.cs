using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>How a test cluster's silos are configured: what a deployment sets through
/// configuration (DATABASE_URL, MAX_CONCURRENT_TASKS, the recovery period), plus what a test
/// shares with its silos (the clock, the handlers' probe).</summary>
public sealed class SchedulerClusterOptions
{
    /// <summary>Storage:DatabaseUrl: a SQLite file, or a PostgreSQL connection string.</summary>
    public required string DatabaseUrl { get; init; }

    /// <summary>Silos of the cluster. SQLite serves one process per file: one silo.</summary>
    public int Silos { get; init; } = 1;

    public int MaxConcurrentTasks { get; init; } = 2;

    /// <summary>The recovery reminders' period (a minute in production).</summary>
    public TimeSpan RecoveryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The scheduler's clock in every silo (Orleans' own areas keep the system clock).</summary>
    public ShiftedClock Clock { get; init; } = new();

    /// <summary>Shared by the test handlers of every silo.</summary>
    public ClusterProbe Probe { get; init; } = new();

    /// <summary>More configuration keys, on top of the above.</summary>
    public Dictionary<string, string?> Settings { get; init; } = [];
}
