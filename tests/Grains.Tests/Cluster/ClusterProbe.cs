using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>What the test sees of its cluster and steers in it, shared by every silo: each execution
/// of the test handlers (task, attempt, silo, how it ended), when each ran, the
/// gates the test opens, failures it asks for, and notifications it has lost in transit
/// (<see cref="LostMessages"/>). The handlers register by type name, like any user's
/// (<c>services.AddTaskHandler</c>).</summary>
public sealed class ClusterProbe
{
    private readonly ConcurrentDictionary<string, string?> _open = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _failNext = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _deaf = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Execution> _executions = new();
    private volatile bool _allOpen;

    public IReadOnlyList<Execution> Executions => [.. _executions];

    public IReadOnlyList<Execution> ExecutionsOf(string taskId) => _executions.Where(e => e.TaskId == taskId).ToList();

    /// <summary>Lets every gated attempt of <paramref name="taskId"/>, now and later, succeed (with
    /// <paramref name="result"/> as its JSON result).</summary>
    public void Open(string taskId, string? result = null)
    {
        _open[taskId] = result;
        foreach (var execution in ExecutionsOf(taskId))
        {
            execution.Gate.TrySetResult(result);
        }
    }

    /// <summary>Fails the gated attempt of <paramref name="taskId"/> that runs now (a later one
    /// waits at a closed gate again).</summary>
    public void Fail(string taskId)
    {
        var running = ExecutionsOf(taskId).LastOrDefault(e => e.Outcome is null)
            ?? throw new InvalidOperationException($"No attempt of {taskId} is running to fail.");
        running.Gate.TrySetException(new InvalidOperationException("gate: failed by the test"));
    }

    /// <summary>The next <paramref name="attempts"/> gated attempts of <paramref name="taskId"/> fail
    /// at once (whatever their attempt number, so a retried task can fail again or not).</summary>
    public void FailNext(string taskId, int attempts = 1) => _failNext.AddOrUpdate(taskId, attempts, (_, n) => n + attempts);

    /// <summary>From now on, "dependency completed" and "dependency failed" notifications to
    /// <paramref name="taskId"/> are lost in transit (dropped before the grain sees them).</summary>
    public void LoseNotificationsTo(string taskId) => _deaf.TryAdd(taskId, 0);

    public void HearNotificationsTo(string taskId) => _deaf.TryRemove(taskId, out _);

    internal bool IsDeaf(string taskId) => _deaf.ContainsKey(taskId);

    internal bool TakeFailure(string taskId)
    {
        while (_failNext.TryGetValue(taskId, out var left) && left > 0)
        {
            if (_failNext.TryUpdate(taskId, left - 1, left))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Opens every gate, now and later: a cluster being torn down lets its attempts end.</summary>
    public void OpenAll()
    {
        _allOpen = true;
        foreach (var execution in _executions)
        {
            execution.Gate.TrySetResult(null);
        }
    }

    /// <summary>Records an execution that starts now. Its gate is open already if the test opened
    /// the task's; a test that sees the execution can open or fail it.</summary>
    internal Execution Enter(TaskExecution execution, string silo)
    {
        var entry = new Execution(execution.TaskId, execution.Attempt, silo);
        _executions.Enqueue(entry);
        if (_allOpen)
        {
            entry.Gate.TrySetResult(null);
        }
        else if (_open.TryGetValue(execution.TaskId, out var result))
        {
            entry.Gate.TrySetResult(result);
        }

        return entry;
    }

    internal void Exit(Execution execution, string outcome)
    {
        execution.Ended = Stopwatch.GetTimestamp();
        execution.Outcome = outcome;
    }

    /// <summary>One run of a handler: <see cref="Outcome"/> is null while it runs, then "succeeded",
    /// "failed" or "cancelled".</summary>
    public sealed class Execution(string taskId, int attempt, string silo)
    {
        public string TaskId { get; } = taskId;

        public int Attempt { get; } = attempt;

        public string Silo { get; } = silo;

        public long Started { get; } = Stopwatch.GetTimestamp();

        /// <summary>Stopwatch ticks; 0 while it runs.</summary>
        public long Ended { get; set; }

        public string? Outcome { get; set; }

        /// <summary>What a gated execution waits for: a result, or a failure.</summary>
        internal TaskCompletionSource<string?> Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Most of <paramref name="executions"/> that ran at the same moment.</summary>
        public static int Peak(IEnumerable<Execution> executions)
        {
            var (running, peak) = (0, 0);
            var edges = executions.SelectMany(e => new[] { (At: e.Started, Delta: 1), (At: e.Ended == 0 ? long.MaxValue : e.Ended, Delta: -1) });
            foreach (var (_, delta) in edges.OrderBy(e => e.At).ThenBy(e => e.Delta))
            {
                running += delta;
                peak = Math.Max(peak, running);
            }

            return peak;
        }

        public override string ToString() => $"{TaskId}#{Attempt}@{Silo}:{Outcome ?? "running"}";
    }
}
