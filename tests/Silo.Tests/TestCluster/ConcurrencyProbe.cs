using System.Collections.Concurrent;
using System.Text.Json;

namespace OrleansScheduler.Silo.Tests.TestCluster;

/// <summary>Shared by every silo of a test cluster: counts handlers running at once across them all,
/// and how many times each task's handler ran to the end.</summary>
public sealed class ConcurrencyProbe
{
    private int _current;
    private int _max;

    public int Max => Volatile.Read(ref _max);

    public ConcurrentDictionary<string, int> Finished { get; } = new(StringComparer.Ordinal);

    public void Enter()
    {
        var now = Interlocked.Increment(ref _current);
        int seen;
        while (now > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, seen) != seen)
        {
        }
    }

    public void Exit(string taskId, bool finished)
    {
        Interlocked.Decrement(ref _current);
        if (finished)
        {
            Finished.AddOrUpdate(taskId, 1, (_, n) => n + 1);
        }
    }
}

/// <summary>Type "probe": waits duration_ms like the simulator, inside the probe's count.</summary>
public sealed class ProbeHandler(ConcurrencyProbe probe) : ITaskHandler
{
    public const string TypeName = "probe";

    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        probe.Enter();
        var finished = false;
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(execution.DurationMs), cancellationToken);
            finished = true;
            return null;
        }
        finally
        {
            probe.Exit(execution.TaskId, finished);
        }
    }
}
