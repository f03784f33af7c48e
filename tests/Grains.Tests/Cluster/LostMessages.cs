namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>Loses the notifications the test named (<see cref="ClusterProbe.LoseNotificationsTo"/>)
/// before the target grain sees them, as a message lost with a silo would be: the grain never
/// runs the call (Orleans wants a filter that does not invoke to throw; the sender of a one-way
/// call never hears of it, an awaited one sees the failure). What the database says is then the
/// only way the task can learn of it (activation, WakeAsync, the sweeper).</summary>
public sealed class LostMessages(ClusterProbe probe) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.InterfaceMethod.Name is nameof(ITaskGrain.UpstreamCompletedAsync) or nameof(ITaskGrain.UpstreamFailedAsync)
            && context.TargetId.Key.ToString() is { } id && probe.IsDeaf(id))
        {
            throw new MessageLostException($"{context.InterfaceMethod.Name} to {id} was lost in transit (the test asked for it)");
        }

        return context.Invoke();
    }
}

public sealed class MessageLostException(string message) : Exception(message);
