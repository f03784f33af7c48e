namespace OrleansScheduler.Grains.Execution;

/// <summary>Where a TaskGrain hands its attempt: the silo's executor runs the handler on the thread
/// pool, outside any grain turn, and reports the outcome with <see cref="ITaskGrain.EndAttemptAsync"/>.
/// Implemented by src/Silo's Executor.</summary>
public interface IAttemptRunner
{
    /// <summary>Most attempts this silo runs at once (Silo:Capacity), shown in /api/workers.</summary>
    int Capacity { get; }

    /// <summary>False once the silo is stopping: grants are given back for another silo to take.</summary>
    bool Accepting { get; }

    /// <summary>Whether this silo has a handler of its own for the type (the simulator, which runs
    /// any type, does not count): such a type never waits for an external worker.</summary>
    bool HasHandler(string type);

    /// <summary>Starts the attempt; returns at once.</summary>
    void Start(AttemptLease lease);

    /// <summary>Whether this silo is running the attempt of that grant, or still reporting it.</summary>
    bool IsRunning(string taskId, long grantId);

    /// <summary>Stops the attempt's handler without reporting it (cancelled by a user).</summary>
    void Cancel(string taskId, long grantId);
}
