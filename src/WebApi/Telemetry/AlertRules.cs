namespace OrleansScheduler.WebApi.Telemetry;

/// <summary>The alert rules over successive stats samples, free of timers and of the cluster: what
/// fires now, given the history kept here (as long as the longest window).</summary>
public sealed class AlertRules(AlertsOptions options)
{
    private readonly LinkedList<Sample> _samples = new();
    private DateTimeOffset? _noSiloSince;

    /// <summary>The firing conditions at <paramref name="now"/>: name, severity and message.</summary>
    /// <param name="stats">The cluster's figures; null when the cluster did not answer.</param>
    /// <param name="overdue">RUNNING tasks past their timeout plus the grace: id and how long they have run.</param>
    public List<(string Name, string Severity, string Message)> Evaluate(
        DateTimeOffset now, SchedulerStats? stats, string? unavailable, IReadOnlyList<(string TaskId, TimeSpan Running)> overdue)
    {
        ArgumentNullException.ThrowIfNull(overdue);
        var firing = new List<(string, string, string)>();
        var noSilo = stats is null ? $"the cluster does not answer: {unavailable}"
            : stats.SilosAlive < 1 ? "no silo is alive: no task can run"
            : null;
        // Held for Alerts:NoSiloAliveFor first: a silo starting, or one slow answer, is no outage.
        _noSiloSince = noSilo is null ? null : _noSiloSince ?? now;
        if (noSilo is not null && now - _noSiloSince >= options.NoSiloAliveFor)
        {
            firing.Add((AlertNames.NoSiloAlive, "critical", noSilo));
        }

        if (stats is null)
        {
            return firing;
        }

        var sample = new Sample(now, Count(stats, TaskStatus.Completed), Count(stats, TaskStatus.Failed), Count(stats, TaskStatus.Queued),
            stats.Slots.Limit > 0 && stats.Slots.InUse >= stats.Slots.Limit);
        _samples.AddLast(sample);
        var keep = options.FailureRateWindow > options.SlotsSaturatedFor ? options.FailureRateWindow : options.SlotsSaturatedFor;
        // One sample older than the longest window is kept: the window's start.
        while (_samples.First!.Next is { } second && second.Value.At <= now - keep)
        {
            _samples.RemoveFirst();
        }

        FailureRate(now, sample, firing);
        QueueWait(stats, firing);
        if (overdue.Count > 0)
        {
            var (id, running) = overdue[0];
            firing.Add((AlertNames.TaskOverdue, "warning",
                $"{overdue.Count} RUNNING task(s) far past their timeout, e.g. '{id}' running for {running.TotalSeconds:0} s"));
        }

        SlotsSaturated(now, sample, firing);
        return firing;
    }

    private void FailureRate(DateTimeOffset now, Sample latest, List<(string, string, string)> firing)
    {
        var start = StartOf(now - options.FailureRateWindow) ?? _samples.First!.Value;
        var failed = Math.Max(0, latest.Failed - start.Failed);
        var completed = Math.Max(0, latest.Completed - start.Completed);
        var ended = failed + completed;
        if (ended >= options.FailureRateMinTasks && (double)failed / ended > options.FailureRateThreshold)
        {
            firing.Add((AlertNames.FailureRateHigh, "warning",
                $"{failed} of {ended} tasks that ended in the last {options.FailureRateWindow.TotalMinutes:0.#} min FAILED ({100.0 * failed / ended:0.#} %, threshold {100 * options.FailureRateThreshold:0.#} %)"));
        }
    }

    private void QueueWait(SchedulerStats stats, List<(string, string, string)> firing)
    {
        if (stats.Latency is { QueueWaitP99Ms: { } p99 } latency && latency.Sample >= options.QueueWaitMinSample
            && p99 > options.QueueWaitP99Threshold.TotalMilliseconds)
        {
            firing.Add((AlertNames.QueueWaitHigh, "warning",
                $"queue wait p99 is {p99 / 1000:0.###} s over the latest {latency.Sample} completions (threshold {options.QueueWaitP99Threshold.TotalSeconds:0.###} s)"));
        }
    }

    /// <summary>Saturated at every sample since the window's start, and QUEUED grew over it.</summary>
    private void SlotsSaturated(DateTimeOffset now, Sample latest, List<(string, string, string)> firing)
    {
        if (StartOf(now - options.SlotsSaturatedFor) is not { } start)
        {
            return;
        }

        var saturated = true;
        for (var node = _samples.Last; node is not null && node.Value.At >= start.At; node = node.Previous)
        {
            saturated &= node.Value.Saturated;
        }

        if (saturated && latest.Queued > start.Queued)
        {
            firing.Add((AlertNames.SlotsSaturated, "warning",
                $"every slot has been in use for {options.SlotsSaturatedFor.TotalSeconds:0.#} s and the queue grew from {start.Queued} to {latest.Queued} tasks"));
        }
    }

    /// <summary>The latest sample at or before <paramref name="at"/> (null when the history is shorter).</summary>
    private Sample? StartOf(DateTimeOffset at)
    {
        for (var node = _samples.Last; node is not null; node = node.Previous)
        {
            if (node.Value.At <= at)
            {
                return node.Value;
            }
        }

        return null;
    }

    private static long Count(SchedulerStats stats, TaskStatus status) => stats.Counts.GetValueOrDefault(status);

    private readonly record struct Sample(DateTimeOffset At, long Completed, long Failed, long Queued, bool Saturated);
}
