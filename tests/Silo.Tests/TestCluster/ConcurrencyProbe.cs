using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Orleans.Runtime;

namespace OrleansScheduler.Silo.Tests.TestCluster;

/// <summary>Shared by every silo of a test cluster (they run in this process): counts handlers
/// running at once across them all, and records every handler execution (task, attempt, silo,
/// start and end on one monotonic clock), so the properties are judged from what actually ran as
/// well as from the events the grains recorded.</summary>
public sealed class ConcurrencyProbe
{
    private readonly ConcurrentQueue<ProbeRun> _runs = new();
    private int _current;
    private int _max;

    /// <summary>Most handlers that were inside <see cref="ProbeHandler.ExecuteAsync"/> at once.</summary>
    public int Max => Volatile.Read(ref _max);

    public int Current => Volatile.Read(ref _current);

    /// <summary>Every execution that has ended, in the order they ended.</summary>
    public IReadOnlyList<ProbeRun> Runs => [.. _runs];

    /// <summary>The probe's clock: <see cref="Stopwatch"/> ticks, the same for every silo here.</summary>
    public static long Now() => Stopwatch.GetTimestamp();

    public long Enter()
    {
        var now = Interlocked.Increment(ref _current);
        int seen;
        while (now > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, seen) != seen)
        {
        }

        return Now();
    }

    public void Exit(TaskExecution execution, string silo, long started, bool finished)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var ended = Now();
        Interlocked.Decrement(ref _current);
        _runs.Enqueue(new ProbeRun(execution.TaskId, execution.Attempt, silo, started, ended, finished));
    }
}

/// <summary>One handler execution. <see cref="Finished"/> is false when it was cancelled (the silo
/// stopped under it).</summary>
public sealed record ProbeRun(string TaskId, int Attempt, string Silo, long Started, long Ended, bool Finished);

/// <summary>Type "probe": waits duration_ms like the simulator, inside the probe's count.</summary>
public sealed class ProbeHandler(ConcurrencyProbe probe, ILocalSiloDetails silo) : ITaskHandler
{
    public const string TypeName = "probe";

    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        var started = probe.Enter();
        var finished = false;
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(execution.DurationMs), cancellationToken);
            finished = true;
            return null;
        }
        finally
        {
            probe.Exit(execution, silo.Name, started, finished);
        }
    }
}
