using System.Globalization;
using OrleansScheduler.Grains.Tasks;
using OrleansScheduler.Silo.Tests.TestCluster;

namespace OrleansScheduler.Silo.Tests;

/// <summary>The cluster's promises as checks over what happened: the transitions the grains recorded
/// (events) and the handler executions the probe saw. Each check fails with the histories that
/// break it.</summary>
internal static class ClusterChecks
{
    /// <summary>Every recorded transition is one <see cref="TaskStateMachine"/> allows, and the
    /// history is a chain: the first event enters the lifecycle (no "from"), each later one starts
    /// where the one before ended.</summary>
    public static void TransitionsAllowed(IReadOnlyDictionary<string, IReadOnlyList<TaskEvent>> history)
    {
        var wrong = new List<string>();
        foreach (var (id, events) in history)
        {
            if (events.Count == 0 || events[0].From is not null)
            {
                wrong.Add($"{id}: does not begin with its submission:{Environment.NewLine}{Describe(events)}");
                continue;
            }

            for (var i = 1; i < events.Count; i++)
            {
                var e = events[i];
                if (e.From != events[i - 1].To || !TaskStateMachine.CanTransition(e.From!.Value, e.To))
                {
                    wrong.Add($"{id}: event {i} {e.From?.ToName() ?? "-"}->{e.To.ToName()} does not follow {events[i - 1].To.ToName()} by an allowed transition:{Environment.NewLine}{Describe(events)}");
                    break;
                }
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} histories break the lifecycle:{Environment.NewLine}{string.Join(Environment.NewLine, wrong.Take(10))}");
    }

    /// <summary>Each task ends COMPLETED with exactly one COMPLETED event, and its handler finished
    /// exactly once (the probe saw one finished execution).</summary>
    public static void CompletedExactlyOnce(IReadOnlyDictionary<string, IReadOnlyList<TaskEvent>> history, IReadOnlyList<ProbeRun> runs)
    {
        var finished = runs.Where(r => r.Finished).GroupBy(r => r.TaskId).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var wrong = history
            .Where(h => h.Value.Count(e => e.To == TaskStatus.Completed) != 1 || h.Value[^1].To != TaskStatus.Completed || finished.GetValueOrDefault(h.Key) != 1)
            .Select(h => $"{h.Key}: handler finished {finished.GetValueOrDefault(h.Key)} times{Environment.NewLine}{Describe(h.Value)}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} tasks did not complete exactly once:{Environment.NewLine}{string.Join(Environment.NewLine, wrong.Take(10))}");
    }

    /// <summary>Each task ran exactly once: one RUNNING event, one handler execution.</summary>
    public static void RanExactlyOnce(IReadOnlyDictionary<string, IReadOnlyList<TaskEvent>> history, IReadOnlyList<ProbeRun> runs)
    {
        var executions = runs.GroupBy(r => r.TaskId).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var wrong = history
            .Where(h => h.Value.Count(e => e.To == TaskStatus.Running) != 1 || executions.GetValueOrDefault(h.Key) != 1)
            .Select(h => $"{h.Key}: {executions.GetValueOrDefault(h.Key)} handler executions{Environment.NewLine}{Describe(h.Value)}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} tasks did not run exactly once:{Environment.NewLine}{string.Join(Environment.NewLine, wrong.Take(10))}");
    }

    /// <summary>No task was released or started before all its dependencies COMPLETED: by the events
    /// (a task leaves WAITING, and each of its RUNNING events comes, at or after each dependency's
    /// COMPLETED) and by the probe (every execution of a task began after each dependency's finished
    /// execution ended).</summary>
    public static void DependencyOrder(IEnumerable<TaskSpec> specs, IReadOnlyDictionary<string, IReadOnlyList<TaskEvent>> history, IReadOnlyList<ProbeRun> runs)
    {
        var byTask = runs.ToLookup(r => r.TaskId, StringComparer.Ordinal);
        var wrong = new List<string>();
        foreach (var spec in specs)
        {
            foreach (var dependency in spec.Dependencies)
            {
                var completed = history[dependency].Single(e => e.To == TaskStatus.Completed).At;
                foreach (var e in history[spec.Id].Where(e => e.To == TaskStatus.Running || e.From == TaskStatus.Waiting))
                {
                    if (e.At < completed)
                    {
                        wrong.Add($"event: {spec.Id} {e.From?.ToName()}->{e.To.ToName()} at {e.At:HH:mm:ss.ffffff} before {dependency} COMPLETED at {completed:HH:mm:ss.ffffff}");
                    }
                }

                var finished = byTask[dependency].Single(r => r.Finished).Ended;
                foreach (var run in byTask[spec.Id].Where(r => r.Started < finished))
                {
                    wrong.Add($"probe: {spec.Id}'s handler (attempt {run.Attempt} on {run.Silo}) began {Ms(finished - run.Started)} ms before {dependency}'s handler ended");
                }
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} starts before a dependency completed:{Environment.NewLine}{string.Join(Environment.NewLine, wrong.Take(20))}");
    }

    /// <summary>Never more than <paramref name="limit"/> attempts RUNNING at once by the events, nor
    /// handlers executing at once by the probe. Answers the two maxima.</summary>
    public static (int Events, int Probe) WithinLimit(IReadOnlyDictionary<string, IReadOnlyList<TaskEvent>> history, ConcurrencyProbe probe, int limit)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var events = MaxRunning(history.Values);
        Assert.True(events <= limit, $"{events} tasks were RUNNING at once by the events; the limit is {limit}");
        Assert.True(probe.Max <= limit, $"{probe.Max} handlers executed at once across the silos; the limit is {limit}");
        return (events, probe.Max);
    }

    /// <summary>Most attempts RUNNING at one time, from the recorded transitions. A slot's release
    /// and its next grant may share a timestamp: ends sort before starts.</summary>
    public static int MaxRunning(IEnumerable<IReadOnlyList<TaskEvent>> histories)
    {
        var points = new List<(DateTimeOffset At, int Delta)>();
        foreach (var events in histories)
        {
            foreach (var e in events)
            {
                if (e.To == TaskStatus.Running)
                {
                    points.Add((e.At, +1));
                }
                else if (e.From == TaskStatus.Running)
                {
                    points.Add((e.At, -1));
                }
            }
        }

        var running = 0;
        var max = 0;
        foreach (var (_, delta) in points.OrderBy(p => p.At).ThenBy(p => p.Delta))
        {
            running += delta;
            max = Math.Max(max, running);
        }

        return max;
    }

    public static string Describe(IEnumerable<TaskEvent> events) =>
        string.Join(Environment.NewLine, events.Select(e =>
            $"  {e.At:HH:mm:ss.ffffff} {e.From?.ToName() ?? "-"}->{e.To.ToName()} silo={e.SiloId ?? "-"} attempt={e.Attempt?.ToString(CultureInfo.InvariantCulture) ?? "-"} {e.Reason}"));

    public static double Ms(long ticks) => Math.Round(ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency, 1);
}
