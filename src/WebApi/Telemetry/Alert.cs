namespace OrleansScheduler.WebApi.Telemetry;

/// <summary>A firing alert, as GET /api/alerts lists it.</summary>
public sealed record Alert(string Name, string Severity, DateTimeOffset Since, string Message);

public static class AlertNames
{
    public const string NoSiloAlive = "no_silo_alive";
    public const string FailureRateHigh = "failure_rate_high";
    public const string QueueWaitHigh = "queue_wait_high";
    public const string TaskOverdue = "task_overdue";
    public const string SlotsSaturated = "slots_saturated";

    public static readonly string[] All = [NoSiloAlive, FailureRateHigh, QueueWaitHigh, TaskOverdue, SlotsSaturated];
}
