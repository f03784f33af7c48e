namespace OrleansScheduler.Worker;

/// <summary>Waits that double from <see cref="WorkerService.BackoffStart"/> to
/// <see cref="WorkerService.BackoffCap"/>, with a little jitter so many workers do not hit a
/// restarted server in step.</summary>
internal sealed class Backoff
{
    private TimeSpan _next = WorkerService.BackoffStart;

    public int Attempts { get; private set; }

    public TimeSpan Next(TimeSpan? cap = null)
    {
        var limit = cap is { } c && c < WorkerService.BackoffCap ? c : WorkerService.BackoffCap;
        var wait = _next < limit ? _next : limit;
        _next = _next * 2 < WorkerService.BackoffCap ? _next * 2 : WorkerService.BackoffCap;
        Attempts++;
        return wait * (0.8 + (0.4 * Random.Shared.NextDouble()));
    }

    public Task WaitAsync(TimeProvider time, CancellationToken cancellation) => Task.Delay(Next(), time, cancellation);

    public void Reset()
    {
        _next = WorkerService.BackoffStart;
        Attempts = 0;
    }
}
