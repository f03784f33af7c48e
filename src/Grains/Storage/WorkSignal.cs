namespace OrleansScheduler.Grains.Storage;

/// <summary>A wake-up that any number of sets before a wait collapse into.</summary>
public class Signal
{
    private TaskCompletionSource _next = NewSource();

    public void Set() => Volatile.Read(ref _next).TrySetResult();

    /// <summary>Completes on the next <see cref="Set"/>, or at once if one happened since the last
    /// wait returned; false when the timeout passed first.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var source = Volatile.Read(ref _next);
        try
        {
            await source.Task.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }

        // Consume the signal. A Set that lands on the old source between its completion and this
        // exchange is absorbed, which is safe: its commit came before it, and the work the caller
        // does next (a claim turn) is queued after that commit and so sees it.
        Interlocked.CompareExchange(ref _next, NewSource(), source);
        return true;
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Fired after a commit that may have made work available (a task became QUEUED or a slot
/// was freed), so the dispatcher wakes at once instead of at its next poll.</summary>
public sealed class WorkSignal : Signal;
