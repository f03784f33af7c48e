using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using OrleansScheduler.Grains.Concurrency;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.Workers;

/// <summary>One external worker (<see cref="IWorkerGrain"/>). Its registration is its state in
/// Orleans' ADO.NET grain storage; its leases, its waiting poll and when it was last heard from live
/// in memory. A watch timer declares it DEAD when it has been silent for Workers:DeadAfter (every
/// attempt it holds is lost and re-queued) and expires the lease of a task its heartbeats stopped
/// listing for Workers:LeaseDuration. An activation after a restart knows no lease: recovery (the
/// ConcurrencyGrain's holders) and the worker's heartbeat teach it them again
/// (<see cref="AdoptAsync"/>), and the silence clock starts at the activation.</summary>
[Reentrant]
internal sealed partial class WorkerGrain(
    [PersistentState("worker", StorageNames.AdoNet)] IPersistentState<WorkerRegistrationState> registration,
    SlotRequests slots,
    TaskRouting routing,
    TimeProvider timeProvider,
    IOptions<WorkerOptions> options,
    ILogger<WorkerGrain> logger) : Grain, IWorkerGrain
{
    /// <summary>Most stop reasons remembered for the worker's next heartbeats.</summary>
    private const int MaxStopReasons = 10_000;

    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _stopReasons = new(StringComparer.Ordinal);
    private DateTimeOffset _lastSeen;
    private bool _dead;

    /// <summary>Whether this activation has heard from the worker (its clock otherwise starts at
    /// the activation, which says nothing of the worker).</summary>
    private bool _heard;
    private string? _reportedStatus;
    private string? _systemInfo;
    private Poll? _poll;
    private long _lastPollId;
    private int _starting;
    private IGrainTimer? _watch;

    private WorkerRegistrationState State => registration.State;

    private bool Registered => registration.RecordExists && State.Capabilities.Count > 0;

    private string Id => this.GetPrimaryKeyString();

    private WorkerOptions Settings => options.Value;

    private DateTimeOffset Now => timeProvider.GetUtcNow();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _lastSeen = Now;
        if (Registered)
        {
            StartWatch();
        }

        return Task.CompletedTask;
    }

    public async Task<WorkerView> RegisterAsync(WorkerRegistration request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var first = !Registered;
        State.Capabilities = [.. request.Capabilities];
        State.MaxConcurrentTasks = request.MaxConcurrentTasks;
        if (first)
        {
            State.RegisteredAt = Now;
        }

        await registration.WriteStateAsync().ConfigureAwait(true);
        Heard();
        _systemInfo = request.SystemInfo ?? _systemInfo;
        StartWatch();
        routing.Apply(await Directory.UpdateAsync(View()).ConfigureAwait(true));
        LogRegistered(logger, Id, string.Join(",", State.Capabilities), State.MaxConcurrentTasks, first ? "registered" : "registered again");
        return View();
    }

    public async Task<HeartbeatAnswer?> HeartbeatAsync(WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (!Registered)
        {
            return null;
        }

        Heard();
        (_reportedStatus, _systemInfo) = (heartbeat.Status ?? _reportedStatus, heartbeat.SystemInfo ?? _systemInfo);
        var now = Now;
        var stop = new List<StopOrder>();
        if (heartbeat.CurrentTasks is null)
        {
            foreach (var lease in _leases.Values)
            {
                lease.RenewedAt = now;
            }
        }
        else
        {
            var unknown = new List<string>();
            foreach (var taskId in heartbeat.CurrentTasks.Distinct(StringComparer.Ordinal))
            {
                if (_leases.TryGetValue(taskId, out var lease))
                {
                    lease.RenewedAt = now;
                }
                else if (_stopReasons.TryGetValue(taskId, out var reason))
                {
                    stop.Add(new StopOrder(taskId, reason));
                }
                else
                {
                    unknown.Add(taskId);
                }
            }

            // Tasks this activation does not know (it is new since a restart, or the lease ended
            // while the heartbeat was on its way): the task says whether the worker holds it.
            var live = await Task.WhenAll(unknown.Select(id => GrainFactory.GetGrain<ITaskGrain>(id).GetWorkerLeaseAsync(Id))).ConfigureAwait(true);
            for (var i = 0; i < unknown.Count; i++)
            {
                if (live[i] is { } grantId)
                {
                    _leases.TryAdd(unknown[i], new Lease(unknown[i], grantId, now));
                }
                else
                {
                    stop.Add(new StopOrder(unknown[i], StopReasons.NotLeased));
                }
            }
        }

        Directory.ReportAsync(View()).Ignore();
        return new HeartbeatAnswer(CurrentStatus(), stop);
    }

    public async Task<IReadOnlyList<WorkerTask>?> LeaseAsync(int maxTasks, TimeSpan wait)
    {
        if (!Registered)
        {
            return null;
        }

        Heard();
        EndPoll(); // A newer poll replaces a waiting one, which answers empty.
        var poll = new Poll(++_lastPollId);
        _poll = poll;
        var want = Math.Min(maxTasks, State.MaxConcurrentTasks - _leases.Count - _starting);
        if (want > 0)
        {
            IReadOnlyList<TaskSlotGrant> grants;
            try
            {
                grants = await Concurrency.LeaseAsync(new WorkerPoll(Id, State.Capabilities, want, poll.Id, Wait: wait > TimeSpan.Zero)).ConfigureAwait(true);
            }
            catch
            {
                ClearPoll(poll);
                throw;
            }

            if (grants.Count > 0)
            {
                ClearPoll(poll);
                poll.Answer.TrySetResult(await StartLeasesAsync(grants).ConfigureAwait(true));
            }
        }

        if (!poll.Answer.Task.IsCompleted)
        {
            if (wait > TimeSpan.Zero)
            {
                await Task.WhenAny(poll.Answer.Task, Task.Delay(wait, timeProvider)).ConfigureAwait(true);
            }

            // Still waiting when the time is up: it answers empty. Otherwise an offer took the poll
            // and is starting its tasks, which it answers.
            if (ClearPoll(poll))
            {
                Concurrency.EndPollAsync(Id, poll.Id).Ignore();
                poll.Answer.TrySetResult([]);
            }
        }

        return await poll.Answer.Task.ConfigureAwait(true);
    }

    public async Task OfferAsync(long pollId, IReadOnlyList<TaskSlotGrant> grants)
    {
        ArgumentNullException.ThrowIfNull(grants);
        if (_poll is { } poll && poll.Id == pollId && Registered && !_dead)
        {
            _poll = null;
            if (Now - _lastSeen <= 2 * Settings.HeartbeatInterval)
            {
                poll.Answer.TrySetResult(await StartLeasesAsync(grants).ConfigureAwait(true));
                return;
            }

            // Silent for two heartbeat intervals while its poll waited: frozen, or cut off. Its
            // poll answers empty and the tasks go to another worker (a frozen worker's open poll
            // was handed the very task whose lease it had just lost, and lost it again).
            Concurrency.EndPollAsync(Id, poll.Id).Ignore();
            poll.Answer.TrySetResult([]);
        }

        // The poll answered already: the slots go back, and the tasks, still QUEUED, wait for the
        // next poll (this worker's, or another's).
        foreach (var grant in grants)
        {
            slots.Release(grant.Grant.GrantId);
        }

        slots.WakeWorkers();
    }

    public async Task<WorkerReportResult> ReportAsync(string taskId, long grantId, WorkerOutcome outcome)
    {
        if (!Registered)
        {
            return new WorkerReportResult(WorkerReportStatus.UnknownWorker, null, null);
        }

        Heard();
        var result = await GrainFactory.GetGrain<ITaskGrain>(taskId).EndWorkerAttemptAsync(Id, grantId, outcome).ConfigureAwait(true);
        if (_leases.TryGetValue(taskId, out var lease) && lease.GrantId == grantId && result.Outcome != WorkerReportStatus.UnknownTask)
        {
            _leases.Remove(taskId);
        }

        return result;
    }

    public async Task<IReadOnlyList<string>?> DeregisterAsync()
    {
        if (!Registered)
        {
            return null;
        }

        EndPoll();
        var leases = _leases.Values.ToList();
        _leases.Clear();
        await Task.WhenAll(leases.Select(l => GrainFactory.GetGrain<ITaskGrain>(l.TaskId).HandBackWorkerAttemptAsync(Id, l.GrantId))).ConfigureAwait(true);
        await registration.ClearStateAsync().ConfigureAwait(true);
        routing.Apply(await Directory.RemoveAsync(Id).ConfigureAwait(true));
        _watch?.Dispose();
        _watch = null;
        LogDeregistered(logger, Id, leases.Count);
        DeactivateOnIdle();
        return leases.Select(l => l.TaskId).ToList();
    }

    public Task<WorkerView?> GetAsync() => Task.FromResult(Registered ? View() : null);

    public Task<bool> AdoptAsync(string taskId, long grantId)
    {
        if (!Registered || _dead)
        {
            return Task.FromResult(false);
        }

        if (!_leases.TryGetValue(taskId, out var lease) || lease.GrantId < grantId)
        {
            _leases[taskId] = new Lease(taskId, grantId, Now);
        }

        return Task.FromResult(true);
    }

    public async Task<bool> ForgetIfSilentSinceAsync(DateTimeOffset lastHeard)
    {
        if (!Registered)
        {
            return true;
        }

        if ((_heard && _lastSeen > lastHeard) || _leases.Count > 0 || _starting > 0)
        {
            return false;
        }

        EndPoll();
        await registration.ClearStateAsync().ConfigureAwait(true);
        _watch?.Dispose();
        _watch = null;
        LogForgotten(logger, Id, (Now - lastHeard).TotalHours);
        DeactivateOnIdle();
        return true;
    }

    public Task ForgetAsync(string taskId, long grantId, string reason)
    {
        if (_leases.TryGetValue(taskId, out var lease) && lease.GrantId == grantId)
        {
            _leases.Remove(taskId);
        }

        RememberStop(taskId, reason);
        return Task.CompletedTask;
    }

    private IWorkerDirectoryGrain Directory => GrainFactory.GetGrain<IWorkerDirectoryGrain>(0);

    private IConcurrencyGrain Concurrency => GrainFactory.GetGrain<IConcurrencyGrain>(0);

    /// <summary>Starts the granted tasks' attempts on this worker; those that refuse (cancelled
    /// meanwhile) gave their slot back themselves.</summary>
    private async Task<IReadOnlyList<WorkerTask>> StartLeasesAsync(IReadOnlyList<TaskSlotGrant> grants)
    {
        _starting += grants.Count;
        WorkerTask?[] started;
        try
        {
            started = await Task.WhenAll(grants.Select(StartLeaseAsync)).ConfigureAwait(true);
        }
        finally
        {
            _starting -= grants.Count;
        }

        var now = Now;
        var leased = new List<WorkerTask>(started.Length);
        foreach (var task in started)
        {
            if (task is not null)
            {
                _leases[task.Id] = new Lease(task.Id, task.LeaseToken, now);
                _stopReasons.Remove(task.Id);
                leased.Add(task);
            }
        }

        return leased;
    }

    private async Task<WorkerTask?> StartLeaseAsync(TaskSlotGrant grant)
    {
        try
        {
            return await GrainFactory.GetGrain<ITaskGrain>(grant.TaskId).StartOnWorkerAsync(grant.Grant, Id).ConfigureAwait(true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Its slot stays held until recovery sends the grant again: the task then starts or gives it back.
            LogStartFailed(logger, ex, grant.TaskId, Id);
            return null;
        }
    }

    private void Heard()
    {
        _lastSeen = Now;
        _heard = true;
        if (_dead)
        {
            _dead = false;
            StartWatch();
            LogBack(logger, Id);
        }
    }

    private void EndPoll()
    {
        if (_poll is { } poll)
        {
            _poll = null;
            Concurrency.EndPollAsync(Id, poll.Id).Ignore();
            poll.Answer.TrySetResult([]);
        }
    }

    private bool ClearPoll(Poll poll)
    {
        if (!ReferenceEquals(_poll, poll))
        {
            return false;
        }

        _poll = null;
        return true;
    }

    private void RememberStop(string taskId, string reason)
    {
        if (_stopReasons.Count >= MaxStopReasons)
        {
            _stopReasons.Clear();
        }

        _stopReasons[taskId] = reason;
    }

    private void StartWatch()
    {
        if (_watch is not null)
        {
            return;
        }

        var period = TimeSpan.FromMilliseconds(Math.Clamp(Settings.HeartbeatInterval.TotalMilliseconds / 4, 50, 500));
        _watch = this.RegisterGrainTimer(WatchAsync, new GrainTimerCreationOptions { DueTime = period, Period = period, KeepAlive = true });
    }

    /// <summary>Declares the worker dead when it has been silent too long, and expires the leases
    /// its heartbeats stopped listing.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        if (!Registered)
        {
            return;
        }

        var now = Now;
        if (!_dead && now - _lastSeen > Settings.DeadAfter)
        {
            _dead = true;
            EndPoll();
            var held = _leases.Values.ToList();
            _leases.Clear();
            LogDead(logger, Id, (now - _lastSeen).TotalMilliseconds, held.Count);
            await LoseAsync(held, StopReasons.LeaseExpired, $"worker {Id} was declared dead: not heard from for {Settings.DeadAfter.TotalSeconds:0.#} s").ConfigureAwait(true);
            Directory.ReportAsync(View()).Ignore();

            // Nothing left to watch: the activation may go when idle; a word from the worker starts it again.
            if (_dead && _leases.Count == 0)
            {
                _watch?.Dispose();
                _watch = null;
            }

            return;
        }

        var expired = _leases.Values.Where(l => now - l.RenewedAt > Settings.LeaseDuration).ToList();
        if (expired.Count > 0)
        {
            foreach (var lease in expired)
            {
                _leases.Remove(lease.TaskId);
            }

            await LoseAsync(expired, StopReasons.LeaseExpired,
                $"its lease on worker {Id} expired: no heartbeat listed it for {Settings.LeaseDuration.TotalSeconds:0.#} s").ConfigureAwait(true);
        }
    }

    private async Task LoseAsync(List<Lease> leases, string stopReason, string reason)
    {
        foreach (var lease in leases)
        {
            RememberStop(lease.TaskId, stopReason);
        }

        await Task.WhenAll(leases.Select(async lease =>
        {
            try
            {
                await GrainFactory.GetGrain<ITaskGrain>(lease.TaskId).LoseWorkerAttemptAsync(Id, lease.GrantId, reason).ConfigureAwait(true);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Recovery sends the grant again; the task asks here and, not adopted, loses it then.
                LogLoseFailed(logger, ex, lease.TaskId, Id);
            }
        })).ConfigureAwait(true);
    }

    private string CurrentStatus() => WorkerStatuses.Of(_dead ? WorkerStatuses.Dead : WorkerStatuses.Active, Now - _lastSeen, Settings);

    private WorkerView View() => new(
        Id,
        WorkerView.External,
        null,
        State.Capabilities,
        State.MaxConcurrentTasks,
        _leases.Count,
        _leases.Keys.Take(100).ToList(),
        State.RegisteredAt,
        _lastSeen,
        CurrentStatus(),
        _reportedStatus,
        _systemInfo);

    private sealed class Lease(string taskId, long grantId, DateTimeOffset renewedAt)
    {
        public string TaskId { get; } = taskId;

        public long GrantId { get; } = grantId;

        public DateTimeOffset RenewedAt { get; set; } = renewedAt;
    }

    private sealed class Poll(long id)
    {
        public long Id { get; } = id;

        public TaskCompletionSource<IReadOnlyList<WorkerTask>> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} {What}: capabilities {Capabilities}, at most {MaxConcurrent} tasks at once")]
    private static partial void LogRegistered(ILogger logger, string workerId, string capabilities, int maxConcurrent, string what);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} deregistered; {Count} of its tasks handed back")]
    private static partial void LogDeregistered(ILogger logger, string workerId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} declared dead: not heard from for {SilentMs:0} ms; {Count} of its attempts lost and their tasks re-queued")]
    private static partial void LogDead(ILogger logger, string workerId, double silentMs, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} forgotten: not heard from for {SilentHours:0.##} h (Workers:ForgetAfter)")]
    private static partial void LogForgotten(ILogger logger, string workerId, double silentHours);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId}, declared dead, is heard from again")]
    private static partial void LogBack(ILogger logger, string workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} could not be started on worker {WorkerId}; recovery sends its grant again")]
    private static partial void LogStartFailed(ILogger logger, Exception exception, string taskId, string workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} could not be told that worker {WorkerId} lost its attempt; recovery tells it again")]
    private static partial void LogLoseFailed(ILogger logger, Exception exception, string taskId, string workerId);
}

/// <summary>A worker's registration, in Orleans' ADO.NET grain storage.</summary>
[GenerateSerializer]
public sealed class WorkerRegistrationState
{
    [Id(0)]
    public List<string> Capabilities { get; set; } = [];

    [Id(1)]
    public int MaxConcurrentTasks { get; set; }

    [Id(2)]
    public DateTimeOffset RegisteredAt { get; set; }
}
