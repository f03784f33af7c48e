namespace OrleansScheduler;

/// <summary>Where a task is in its lifecycle (docs/state_machine.md draws the transitions).</summary>
[GenerateSerializer]
public enum TaskStatus
{
    /// <summary>Some dependency has not COMPLETED yet.</summary>
    Waiting,

    /// <summary>Dependencies are done, but run_at (or a retry's backoff) is still in the future.</summary>
    Scheduled,

    /// <summary>Ready; waits for a free slot.</summary>
    Queued,

    /// <summary>Holds a slot on a silo.</summary>
    Running,

    /// <summary>Terminal: the handler succeeded.</summary>
    Completed,

    /// <summary>Terminal: the last attempt failed or timed out.</summary>
    Failed,

    /// <summary>Terminal: cancelled by a user.</summary>
    Cancelled,

    /// <summary>Terminal: a dependency ended FAILED, CANCELLED or UPSTREAM_FAILED; never runs.</summary>
    UpstreamFailed,
}
