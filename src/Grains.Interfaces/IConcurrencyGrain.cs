namespace OrleansScheduler;

/// <summary>The cluster's single issuer of execution slots (a singleton, key 0). It grants free slots
/// to the highest-priority, oldest ready tasks, and persists its holders before a granted slot is
/// used, so the limit holds across its own re-activation and any silo's death.</summary>
public interface IConcurrencyGrain : IGrainWithIntegerKey
{
    /// <summary>Many tasks' slot traffic in one call (each silo batches its own): slots given
    /// back, grants taken up, whether a task became ready, and tasks just released that ask for a
    /// slot before they write themselves QUEUED. Grants what it can before it answers, and answers
    /// the grants of the asking tasks (the others are sent their grants one-way).</summary>
    Task<IReadOnlyDictionary<string, SlotGrant>> UpdateAsync(SlotUpdate update);

    Task<SlotsView> GetSlotsAsync();

    /// <summary>An external worker's poll: grants free slots to the ready tasks of its capabilities
    /// (highest priority, then oldest), at most <see cref="WorkerPoll.MaxTasks"/>. When none is
    /// ready and the poll waits, the worker waits here (in memory) until a task of its capabilities
    /// is ready and a slot free; its grants are then offered to its WorkerGrain.</summary>
    Task<IReadOnlyList<TaskSlotGrant>> LeaseAsync(WorkerPoll poll);

    /// <summary>A worker's waiting poll ended (answered, timed out, or the worker died).</summary>
    [OneWay]
    Task EndPollAsync(string workerId, long pollId);

    /// <summary>Sends every holder its grant again, so a holder whose silo died is re-activated and
    /// records its lost attempt, and grants what is free. Idempotent; run at a silo's start, on a
    /// silo's death and by the grain's reminder.</summary>
    Task RecoverAsync();
}

/// <summary>What one silo has to tell the ConcurrencyGrain since its last call.</summary>
/// <param name="Released">Grants given back: the attempt ended, or the task refused the grant.</param>
/// <param name="Started">Grants a task accepted, with the attempt they run.</param>
/// <param name="Wake">A task became ready for a slot.</param>
/// <param name="WorkerWake">A task for external workers became ready (or was handed back).</param>
/// <param name="Asks">Tasks whose last dependency just completed, asking for a slot at once: one
/// granted runs without first writing itself QUEUED and waiting for a scan of the ready index.
/// They compete with the QUEUED tasks by priority, then age, like any ready task.</param>
[GenerateSerializer, Immutable]
public sealed record SlotUpdate(IReadOnlyList<long> Released, IReadOnlyList<SlotStart> Started, bool Wake, IReadOnlyList<SlotAsk> Asks)
{
    [Id(4)]
    public bool WorkerWake { get; init; }
}

/// <summary>An external worker asking for tasks: <paramref name="PollId"/> tells its polls apart
/// (a newer one replaces a waiting one).</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerPoll(string WorkerId, IReadOnlyList<string> Capabilities, int MaxTasks, long PollId, bool Wait);

[GenerateSerializer, Immutable]
public sealed record SlotStart(long GrantId, string SiloId, int Attempt);

/// <summary>A ready task asking for a slot, with what orders it among ready tasks.</summary>
[GenerateSerializer, Immutable]
public sealed record SlotAsk(string TaskId, int Priority, long Seq);
