namespace OrleansScheduler.Grains.Workers;

/// <summary>External workers (issue 11): section "Workers" (env Workers__HeartbeatInterval, ...).</summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Workers";

    /// <summary>The longest a lease poll may wait for a task.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    /// <summary>How often a worker is asked to heartbeat (told in the answer to its registration). A
    /// worker not heard from for two intervals is listed UNHEALTHY.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a task's lease lasts without a heartbeat that lists it (or a heartbeat
    /// without current_tasks, which renews them all). An expired lease's attempt is lost.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>A worker not heard from (heartbeat, poll, report) for this long is DEAD: every
    /// attempt it holds is lost (it counts) and its tasks are QUEUED again for another worker.</summary>
    public TimeSpan DeadAfter { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>A worker dead this long is forgotten as if it had deregistered: it leaves the list,
    /// its types are no longer claimed (tasks of a type nobody else claims fall to
    /// <see cref="UnclaimedTypes"/>), and if it comes back it is told 404 and registers again.</summary>
    public TimeSpan ForgetAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>What a task type runs on when no silo has a handler for it and no registered worker
    /// lists it: <see cref="UnclaimedTypes.Simulate"/> (the silos' simulator, as the seeds' tasks
    /// expect) or <see cref="UnclaimedTypes.Wait"/> (it stays QUEUED for a worker, blocked_by "no
    /// worker with capability X").</summary>
    public UnclaimedTypes UnclaimedTypes { get; set; } = UnclaimedTypes.Simulate;

    public void Validate()
    {
        if (HeartbeatInterval < TimeSpan.FromMilliseconds(100) || HeartbeatInterval > TimeSpan.FromMinutes(10))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(HeartbeatInterval)} must be from 100 ms to 10 minutes, not {HeartbeatInterval}.");
        }

        if (ForgetAfter < DeadAfter)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(ForgetAfter)} ({ForgetAfter}) must be at least {nameof(DeadAfter)} ({DeadAfter}).");
        }

        if (LeaseDuration < HeartbeatInterval || DeadAfter < HeartbeatInterval)
        {
            throw new InvalidOperationException(
                $"{SectionName}:{nameof(LeaseDuration)} ({LeaseDuration}) and {nameof(DeadAfter)} ({DeadAfter}) must be at least the {nameof(HeartbeatInterval)} ({HeartbeatInterval}).");
        }
    }
}

public enum UnclaimedTypes
{
    Simulate,
    Wait,
}
