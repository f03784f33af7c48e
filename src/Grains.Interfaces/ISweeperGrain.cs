namespace OrleansScheduler;

/// <summary>The singleton (key 0) that brings back interrupted work the database knows of: run_at
/// and backoff times that fell due while no silo held their task, and dependents whose
/// notification was lost. An Orleans reminder wakes it every period; a silo's start and a silo's
/// death wake it at once.</summary>
public interface ISweeperGrain : IGrainWithIntegerKey
{
    Task SweepAsync();
}
