using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.Concurrency;

/// <summary>The cluster's only issuer of execution slots: a singleton (key 0) that grants free slots
/// to the highest-priority, oldest ready tasks, read from the ready index of the tasks table (the
/// durable queue: a task is QUEUED there before it asks). Holders are written before their grants
/// are sent, so a re-activation elsewhere knows every slot in use; a holder is freed only when its
/// task gives the grant back, so the limit holds whatever dies. Each silo batches its traffic here
/// (<see cref="SlotRequests"/>), and one turn grants many slots.</summary>
internal sealed partial class ConcurrencyGrain(
    [PersistentState("slots", StorageNames.Slots)] IPersistentState<ConcurrencyState> slots,
    TaskReadModel reads,
    TimeProvider timeProvider,
    IOptions<SchedulerOptions> options,
    ILogger<ConcurrencyGrain> logger) : Grain, IConcurrencyGrain, IRemindable
{
    /// <summary>The reminder that wakes this grain on a surviving silo if its own died, to send its
    /// holders their grants again (a holder whose silo died records its lost attempt and gives the
    /// slot back). A silo's start and a silo's death do the same at once (RecoveryTriggers).</summary>
    public const string ReminderName = "recover-holders";

    /// <summary>External workers' polls waiting for a task, longest-waiting first (in memory: a
    /// poll lost with this activation just answers empty when its wait ends).</summary>
    private readonly List<WorkerPoll> _waiting = [];

    private ConcurrencyState State => slots.State;

    private int Limit => options.Value.MaxConcurrentTasks;

    public override Task OnActivateAsync(CancellationToken cancellationToken) =>
        StoreFailures.GuardAsync(reads.Database, async () =>
        {
            await this.RegisterOrUpdateReminder(ReminderName, options.Value.RecoveryPeriod, options.Value.RecoveryPeriod).ConfigureAwait(true);
            LogActivated(logger, State.Holders.Count, Limit);
        });

    public async Task<IReadOnlyDictionary<string, SlotGrant>> UpdateAsync(SlotUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var byGrant = update.Released.Count + update.Started.Count > 0
            ? State.Holders.ToDictionary(h => h.Value.GrantId, h => h.Key)
            : null;
        var changed = false;
        foreach (var grant in update.Released)
        {
            if (byGrant!.Remove(grant, out var slot))
            {
                State.Holders.Remove(slot);
                State.Dirty.Add(slot);
                changed = true;
            }
        }

        foreach (var start in update.Started)
        {
            if (byGrant!.TryGetValue(start.GrantId, out var slot))
            {
                (State.Holders[slot].SiloId, State.Holders[slot].Attempt) = (start.SiloId, start.Attempt);
            }
        }

        return await GrantAsync(scan: update.Wake || changed, update.Asks, workerScan: update.WorkerWake || changed).ConfigureAwait(true);
    }

    public Task<SlotsView> GetSlotsAsync()
    {
        var holders = State.Holders.OrderBy(h => h.Key)
            .Select(h => new SlotHolder(h.Key, h.Value.TaskId, h.Value.SiloId ?? "", h.Value.Attempt, h.Value.GrantedAt))
            .ToList();
        return Task.FromResult(new SlotsView(Limit, holders.Count, holders));
    }

    public async Task<IReadOnlyList<TaskSlotGrant>> LeaseAsync(WorkerPoll poll)
    {
        ArgumentNullException.ThrowIfNull(poll);
        _waiting.RemoveAll(w => w.WorkerId == poll.WorkerId);
        var granted = new List<TaskSlotGrant>();
        var free = Math.Min(Limit - State.Holders.Count, poll.MaxTasks);
        if (free > 0)
        {
            var pending = PendingTasks();
            var ready = await reads.WorkerReadyTasksAsync(poll.Capabilities, free + pending.Count).ConfigureAwait(true);
            var now = timeProvider.GetUtcNow();
            foreach (var (task, _) in ready.Where(r => !pending.Contains(r.Task.TaskId)).Take(free))
            {
                granted.Add(new TaskSlotGrant(task.TaskId, Hold(task.TaskId, now)));
            }

            await PersistAsync().ConfigureAwait(true);
        }

        if (granted.Count == 0 && poll.Wait && poll.MaxTasks > 0)
        {
            _waiting.Add(poll);
        }

        return granted;
    }

    public Task EndPollAsync(string workerId, long pollId)
    {
        _waiting.RemoveAll(w => w.WorkerId == workerId && w.PollId == pollId);
        return Task.CompletedTask;
    }

    public async Task RecoverAsync()
    {
        // One-way: a holder on a frozen silo must not hold up this turn. Each holder answers by
        // confirming (alive), by recording its lost attempt and giving the slot back, or by giving
        // back a grant it no longer holds.
        foreach (var holder in State.Holders)
        {
            _ = GrainFactory.GetGrain<ITaskGrain>(holder.Value.TaskId).StartAsync(new SlotGrant(holder.Value.GrantId, holder.Key));
        }

        LogRecovering(logger, State.Holders.Count);
        await GrantAsync(scan: true, asks: [], workerScan: true).ConfigureAwait(true);
    }

    public Task ReceiveReminder(string reminderName, TickStatus status) => RecoverAsync();

    /// <summary>Grants every free slot to the next ready tasks, highest priority first, then oldest:
    /// the QUEUED ones read from the ready index (skipping tasks that hold a grant they have not
    /// taken up yet) together with the tasks asking now, and, for the external workers waiting
    /// here, the QUEUED tasks of their capabilities (a task for workers goes only to a waiting
    /// worker that can run it). The grants are written as holders, and only then answered to the
    /// asking tasks, sent to the others, or offered to the workers' polls.</summary>
    private async Task<IReadOnlyDictionary<string, SlotGrant>> GrantAsync(bool scan, IReadOnlyList<SlotAsk> asks, bool workerScan)
    {
        var free = Limit - State.Holders.Count;
        var granted = new List<(string TaskId, SlotGrant Grant)>();
        Dictionary<WorkerPoll, List<TaskSlotGrant>>? offers = null;
        var forSilos = (scan || asks.Count > 0) && free > 0;
        var forWorkers = workerScan && free > 0 && _waiting.Count > 0;
        if (forSilos || forWorkers)
        {
            // The ready index is read whenever a task asks, so an asking task never passes a QUEUED
            // one of higher priority (or the same priority and older).
            var pending = PendingTasks();
            var candidates = new List<(SlotAsk Task, string? WorkerType)>();
            if (forSilos)
            {
                var ready = await reads.ReadyTasksAsync(free + pending.Count).ConfigureAwait(true);
                candidates.AddRange(ready.Concat(asks).Select(r => (r, (string?)null)));
            }

            if (forWorkers)
            {
                var types = _waiting.SelectMany(w => w.Capabilities).Distinct(StringComparer.Ordinal).ToList();
                var ready = await reads.WorkerReadyTasksAsync(types, free + pending.Count).ConfigureAwait(true);
                candidates.AddRange(ready.Select(r => (r.Task, (string?)r.Type)));
            }

            // What each waiting poll may still take; none is read unless a worker waits.
            var room = forWorkers ? _waiting.ToDictionary(w => w, w => w.MaxTasks) : null;
            var now = timeProvider.GetUtcNow();
            foreach (var (candidate, workerType) in candidates
                .Where(c => !pending.Contains(c.Task.TaskId))
                .OrderByDescending(c => c.Task.Priority)
                .ThenBy(c => c.Task.Seq)
                .DistinctBy(c => c.Task.TaskId, StringComparer.Ordinal))
            {
                if (free == 0)
                {
                    break;
                }

                if (workerType is null)
                {
                    granted.Add((candidate.TaskId, Hold(candidate.TaskId, now)));
                    free--;
                    continue;
                }

                // The longest-waiting poll that can run it.
                var poll = _waiting.FirstOrDefault(w => room![w] > 0 && w.Capabilities.Contains(workerType, StringComparer.Ordinal));
                if (poll is not null)
                {
                    room![poll]--;
                    offers ??= [];
                    if (!offers.TryGetValue(poll, out var list))
                    {
                        offers[poll] = list = [];
                    }

                    list.Add(new TaskSlotGrant(candidate.TaskId, Hold(candidate.TaskId, now)));
                    free--;
                }
            }
        }

        await PersistAsync().ConfigureAwait(true);

        var answers = new Dictionary<string, SlotGrant>(StringComparer.Ordinal);
        var asking = asks.Count == 0 ? null : asks.Select(a => a.TaskId).ToHashSet(StringComparer.Ordinal);
        foreach (var (taskId, grant) in granted)
        {
            if (asking?.Contains(taskId) == true)
            {
                answers[taskId] = grant;
            }
            else
            {
                _ = GrainFactory.GetGrain<ITaskGrain>(taskId).StartAsync(grant);
            }
        }

        if (offers is not null)
        {
            foreach (var (poll, grants) in offers)
            {
                // A poll answers once: the worker polls again for more.
                _waiting.Remove(poll);
                _ = GrainFactory.GetGrain<IWorkerGrain>(poll.WorkerId).OfferAsync(poll.PollId, grants);
            }
        }

        return answers;
    }

    /// <summary>Tasks granted a slot that they have not taken up yet: still QUEUED in the database.</summary>
    private HashSet<string> PendingTasks() =>
        State.Holders.Values.Where(h => !h.Started).Select(h => h.TaskId).ToHashSet(StringComparer.Ordinal);

    /// <summary>Gives the lowest free slot to <paramref name="taskId"/> (written by the next
    /// <see cref="PersistAsync"/>, before anyone hears of the grant).</summary>
    private SlotGrant Hold(string taskId, DateTimeOffset now)
    {
        var slot = 1;
        while (State.Holders.ContainsKey(slot))
        {
            slot++;
        }

        var grant = new SlotGrant(State.NextGrant++, slot);
        State.Holders[slot] = new SlotHolding(taskId, grant.GrantId, now);
        State.Dirty.Add(slot);
        return grant;
    }

    private async Task PersistAsync()
    {
        if (State.Dirty.Count > 0 || !slots.RecordExists)
        {
            await slots.WriteStateAsync().ConfigureAwait(true);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ConcurrencyGrain activated with {Holders} holders, limit {Limit}")]
    private static partial void LogActivated(ILogger logger, int holders, int limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "ConcurrencyGrain recovering: sending {Holders} holders their grants again")]
    private static partial void LogRecovering(ILogger logger, int holders);
}
