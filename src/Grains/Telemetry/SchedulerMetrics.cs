using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace OrleansScheduler.Grains.Telemetry;

/// <summary>The scheduler's own instruments (issue 10), on one Meter, <see cref="MeterName"/>. The
/// counters and histograms are recorded where the transitions happen (TaskGrain, the whole-DAG
/// submission), each a counter increment or a histogram record; the gauges (tasks by status,
/// slots, silos) are observed from a cached snapshot of the catalog's counters by the process that
/// serves /metrics (<see cref="ObserveCluster"/>). Without a listener (metrics off) a record is a
/// no-op check.</summary>
public sealed class SchedulerMetrics
{
    public const string MeterName = "OrleansScheduler";

    /// <summary>Distinct task types tagged by name; the rest are tagged <see cref="OtherType"/>, so a
    /// client that invents a type per task cannot make the series grow without bound.</summary>
    public const int MaxTypesDefault = 100;

    public const string OtherType = "other";

    private readonly ConcurrentDictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly int _maxTypes;
    private readonly Meter _meter;
    private readonly Counter<long> _submitted;
    private readonly Counter<long> _started;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _cancelled;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _runTime;

    public SchedulerMetrics(IMeterFactory meterFactory, int maxTypes = MaxTypesDefault)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTypes);
        _maxTypes = maxTypes;
        _meter = meterFactory.Create(MeterName);
        _submitted = _meter.CreateCounter<long>("scheduler.tasks.submitted", description: "Tasks accepted by a submission, by type.");
        _started = _meter.CreateCounter<long>("scheduler.tasks.started", description: "Attempts started, by type.");
        _completed = _meter.CreateCounter<long>("scheduler.tasks.completed", description: "Tasks that ended COMPLETED, by type.");
        _failed = _meter.CreateCounter<long>("scheduler.tasks.failed", description: "Tasks that ended FAILED (no attempts left), by type.");
        _retried = _meter.CreateCounter<long>("scheduler.tasks.retried", description: "Failed attempts with attempts left (the task runs again), by type.");
        _cancelled = _meter.CreateCounter<long>("scheduler.tasks.cancelled", description: "Tasks cancelled by a user, by type.");
        // Buckets from 5 ms to an hour: the default OpenTelemetry buckets are for milliseconds.
        var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] };
        _queueWait = _meter.CreateHistogram("scheduler.task.queue_wait", "s", "From QUEUED to the attempt's start, by type.", advice: seconds);
        _runTime = _meter.CreateHistogram("scheduler.task.run_time", "s", "An attempt's run, from its start to its end (any outcome), by type.", advice: seconds);
    }

    public void Submitted(string type) => _submitted.Add(1, Tag(type));

    public void Started(string type, TimeSpan queueWait)
    {
        var tag = Tag(type);
        _started.Add(1, tag);
        _queueWait.Record(Math.Max(0, queueWait.TotalSeconds), tag);
    }

    /// <summary>An attempt ended: <paramref name="outcome"/> is the status it left the task in.</summary>
    public void AttemptEnded(string type, TaskStatus outcome, TimeSpan runTime)
    {
        var tag = Tag(type);
        _runTime.Record(Math.Max(0, runTime.TotalSeconds), tag);
        var counter = outcome switch
        {
            TaskStatus.Completed => _completed,
            TaskStatus.Failed => _failed,
            TaskStatus.Queued or TaskStatus.Scheduled => _retried,
            _ => null,
        };
        counter?.Add(1, tag);
    }

    public void Cancelled(string type) => _cancelled.Add(1, Tag(type));

    /// <summary>The cluster-wide gauges, observed from <paramref name="snapshot"/> (null: no figures
    /// yet, nothing is reported) and <paramref name="overdue"/> (RUNNING tasks far past their
    /// timeout, from the alert rules). Called once, by the process that serves the figures.</summary>
    public void ObserveCluster(Func<SchedulerStats?> snapshot, Func<long?> overdue)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(overdue);
        _meter.CreateObservableGauge("scheduler.tasks.overdue", () => overdue() is { } n ? [new Measurement<long>(n)] : Array.Empty<Measurement<long>>(),
            description: "RUNNING tasks past their timeout plus Alerts:TaskOverdueGrace (the task_overdue rule).");
        _meter.CreateObservableGauge("scheduler.tasks", () => ByStatus(snapshot()), description: "Tasks by status (queue depth: QUEUED; also WAITING, SCHEDULED, RUNNING and the ended ones).");
        _meter.CreateObservableGauge("scheduler.slots.in_use", () => One(snapshot(), s => s.Slots.InUse), description: "Execution slots held now, cluster-wide.");
        _meter.CreateObservableGauge("scheduler.slots.limit", () => One(snapshot(), s => s.Slots.Limit), description: "The cluster-wide limit of tasks RUNNING at once.");
        _meter.CreateObservableGauge("scheduler.silos.alive", () => One(snapshot(), s => s.SilosAlive), description: "Silos ACTIVE in the cluster's membership.");
    }

    private static IEnumerable<Measurement<long>> ByStatus(SchedulerStats? stats)
    {
        if (stats is null)
        {
            yield break;
        }

        foreach (var name in TaskStatusNames.All)
        {
            yield return new Measurement<long>(stats.Counts.GetValueOrDefault(TaskStatusNames.Parse(name)), new KeyValuePair<string, object?>("status", name));
        }
    }

    private static IEnumerable<Measurement<long>> One(SchedulerStats? stats, Func<SchedulerStats, long> value) =>
        stats is null ? [] : [new Measurement<long>(value(stats))];

    private KeyValuePair<string, object?> Tag(string type)
    {
        if (!_types.TryGetValue(type, out var tag))
        {
            tag = _types.Count < _maxTypes ? _types.GetOrAdd(type, type) : OtherType;
        }

        return new KeyValuePair<string, object?>("type", tag);
    }
}
