namespace OrleansScheduler.Grains.Tests.Support;

/// <summary>The system clock plus an offset the test moves forward: events keep their real order
/// and spacing (a dependent's start after its dependency's end), while a run_at or a backoff an
/// hour away is reached by <see cref="Advance"/> instead of waiting. Timers still run in real
/// time; the scheduler re-arms a timer that fires early, and its sweeper wakes what fell due.</summary>
public sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        Interlocked.Add(ref _offsetTicks, by.Ticks);
    }
}
