namespace OrleansScheduler.Grains.Concurrency;

/// <summary>The ConcurrencyGrain's persistent state: who holds which slot, and the next grant id.
/// Written (<see cref="Storage.ConcurrencyStateStorage"/>) before a grant is sent, so the limit
/// holds across the grain's re-activation on another silo.</summary>
public sealed class ConcurrencyState
{
    /// <summary>Grants are numbered for the database's life, so a task can tell a stale one.</summary>
    public long NextGrant { get; set; } = 1;

    /// <summary>By slot number (1 to the limit).</summary>
    public Dictionary<int, SlotHolding> Holders { get; set; } = [];

    /// <summary>Slots whose row changed since the last write.</summary>
    public HashSet<int> Dirty { get; } = [];
}

/// <summary>One held slot. <see cref="SiloId"/> and <see cref="Attempt"/> are known once the task
/// accepted the grant (in memory only: they are for the slots view).</summary>
public sealed class SlotHolding(string taskId, long grantId, DateTimeOffset grantedAt)
{
    public string TaskId { get; } = taskId;

    public long GrantId { get; } = grantId;

    public DateTimeOffset GrantedAt { get; } = grantedAt;

    public string? SiloId { get; set; }

    public int Attempt { get; set; }

    public bool Started => SiloId is not null;
}
