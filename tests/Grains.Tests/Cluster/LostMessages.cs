namespace OrleansScheduler.Grains.Tests.Cluster;

/// <summary>Loses the notifications the test named (<see cref="ClusterProbe.LoseNotificationsTo"/>)
/// on the sender's side, as a message lost with a silo would be: it never reaches the target, so
/// it neither runs the call nor activates the grain (an activation reads its dependencies' rows
/// and would settle the task at once). The sender of a one-way call never hears of it; an awaited
/// one sees the failure. What the database says is then the only way the task can learn of it
/// (activation, WakeAsync, the sweeper).</summary>
public sealed class LostMessages(ClusterProbe probe) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
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
