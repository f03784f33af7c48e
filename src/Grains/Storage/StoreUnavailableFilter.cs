namespace OrleansScheduler.Grains.Storage;

/// <summary>Every grain call that fails because the database is out of reach fails with
/// <see cref="StoreUnavailableException"/> (<see cref="StoreFailures"/> says why).</summary>
internal sealed class StoreUnavailableFilter(SchedulerDatabase database) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return StoreFailures.GuardAsync(database, context.Invoke);
    }
}
