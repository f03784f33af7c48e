namespace OrleansScheduler.Testing;

/// <summary>Waits on a condition, never on a fixed sleep: probes every 25 ms until the predicate
/// holds or the timeout passes, and then fails with the last state it saw.</summary>
public static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(25);

    public static async Task<T> UntilAsync<T>(
        string what,
        Func<Task<T>> probe,
        Func<T, bool> done,
        Func<T, string> describe,
        TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(done);
        ArgumentNullException.ThrowIfNull(describe);
        var limit = timeout ?? DefaultTimeout;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var state = await probe();
            if (done(state))
            {
                return state;
            }

            if (clock.Elapsed > limit)
            {
                throw new Xunit.Sdk.XunitException($"Timed out after {limit.TotalSeconds:0} s waiting until {what}. Last seen: {describe(state)}");
            }

            await Task.Delay(Interval);
        }
    }
}
