namespace OrleansScheduler.Worker;

/// <summary>A leased task from its lease to its report: while <see cref="Finished"/> is false it is
/// still running and a `stop` (or shutdown) kills it; once finished, its result is being reported.</summary>
internal sealed class RunningTask(LeasedTask task) : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private volatile string? _stopReason;
    private volatile bool _finished;

    public LeasedTask Task { get; } = task;

    public CancellationToken Stopping => _stop.Token;

    public string? StopReason => _stopReason;

    public bool Finished
    {
        get => _finished;
        set => _finished = value;
    }

    /// <summary>Kills the run (the first reason wins).</summary>
    public void Stop(string reason)
    {
        Interlocked.CompareExchange(ref _stopReason, reason, null);
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Its run ended and released it in between: nothing left to stop.
        }
    }

    public void Dispose() => _stop.Dispose();
}
