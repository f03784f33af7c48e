using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Grains.Workers;

/// <summary>The registered external workers, for GET /api/workers and for routing (the task types
/// they claim). The registrations are this grain's state in Orleans' ADO.NET grain storage, written
/// only when a worker registers, changes or deregisters; what heartbeats bring (load, running tasks,
/// system_info, the last contact) lives in memory and arrives with each heartbeat.</summary>
internal sealed class WorkerDirectoryGrain(
    [PersistentState("workers", StorageNames.AdoNet)] IPersistentState<WorkerDirectoryState> registrations,
    TimeProvider timeProvider,
    IOptions<WorkerOptions> options) : Grain, IWorkerDirectoryGrain
{
    private readonly Dictionary<string, WorkerView> _views = new(StringComparer.Ordinal);

    /// <summary>Starts from the clock so that a new activation's versions are newer than an old one's
    /// (the silos keep the highest version they saw).</summary>
    private long _version;

    private DateTimeOffset _activatedAt;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _activatedAt = timeProvider.GetUtcNow();
        _version = _activatedAt.ToUnixTimeMilliseconds() * 1000;
        var period = TimeSpan.FromTicks(Math.Clamp(options.Value.ForgetAfter.Ticks / 4, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromMinutes(1).Ticks));
        this.RegisterGrainTimer(ForgetSilentAsync, new GrainTimerCreationOptions { DueTime = period, Period = period });
        foreach (var (id, worker) in registrations.State.Workers)
        {
            // Not heard from since this activation: listed by its registration time until it is.
            _views[id] = new WorkerView(id, WorkerView.External, null, worker.Capabilities, worker.MaxConcurrentTasks, 0, [],
                worker.RegisteredAt, worker.RegisteredAt, WorkerStatuses.Dead, null, null);
        }

        return Task.CompletedTask;
    }

    public async Task<WorkerClaims> UpdateAsync(WorkerView worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        var known = registrations.State.Workers.GetValueOrDefault(worker.Id);
        _views[worker.Id] = worker;
        if (known is null || !known.Capabilities.SequenceEqual(worker.Capabilities, StringComparer.Ordinal) || known.MaxConcurrentTasks != worker.Capacity)
        {
            if (known is null || !known.Capabilities.SequenceEqual(worker.Capabilities, StringComparer.Ordinal))
            {
                _version++;
            }

            registrations.State.Workers[worker.Id] = new WorkerRegistrationState
            {
                Capabilities = [.. worker.Capabilities],
                MaxConcurrentTasks = worker.Capacity,
                RegisteredAt = worker.StartedAt,
            };
            await registrations.WriteStateAsync().ConfigureAwait(true);
        }

        return Claims();
    }

    public Task ReportAsync(WorkerView worker)
    {
        ArgumentNullException.ThrowIfNull(worker);

        // Only a registered worker is listed: a report that crossed its deregistration is dropped.
        if (registrations.State.Workers.ContainsKey(worker.Id))
        {
            _views[worker.Id] = worker;
        }

        return Task.CompletedTask;
    }

    public async Task<WorkerClaims> RemoveAsync(string workerId)
    {
        _views.Remove(workerId);
        if (registrations.State.Workers.Remove(workerId))
        {
            _version++;
            await registrations.WriteStateAsync().ConfigureAwait(true);
        }

        return Claims();
    }

    public Task<IReadOnlyList<WorkerView>> GetWorkersAsync()
    {
        var now = timeProvider.GetUtcNow();
        var settings = options.Value;
        IReadOnlyList<WorkerView> workers = _views.Values
            .OrderBy(w => w.Id, StringComparer.Ordinal)
            .Select(w => w with { Status = WorkerStatuses.Of(w.Status, now - w.HeartbeatAt, settings) })
            .ToList();
        return Task.FromResult(workers);
    }

    public Task<WorkerClaims?> GetClaimsAsync(long knownVersion) =>
        Task.FromResult(knownVersion == _version ? null : Claims());

    /// <summary>Retention: a worker listed DEAD and silent for Workers:ForgetAfter (counted from this
    /// activation at the earliest: heartbeats are not persisted) is asked to forget itself, and if
    /// it did, it leaves the list and its claims.</summary>
    private async Task ForgetSilentAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var forgetAfter = options.Value.ForgetAfter;
        var silent = _views.Values
            .Where(w => WorkerStatuses.Of(w.Status, now - w.HeartbeatAt, options.Value) == WorkerStatuses.Dead
                && now - (w.HeartbeatAt > _activatedAt ? w.HeartbeatAt : _activatedAt) > forgetAfter)
            .ToList();
        foreach (var worker in silent)
        {
            if (await GrainFactory.GetGrain<IWorkerGrain>(worker.Id).ForgetIfSilentSinceAsync(worker.HeartbeatAt).ConfigureAwait(true))
            {
                await RemoveAsync(worker.Id).ConfigureAwait(true);
            }
        }
    }

    private WorkerClaims Claims() =>
        new(_version, registrations.State.Workers.Values.SelectMany(w => w.Capabilities).Distinct(StringComparer.Ordinal).ToList());
}

[GenerateSerializer]
public sealed class WorkerDirectoryState
{
    [Id(0)]
    public Dictionary<string, WorkerRegistrationState> Workers { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>An external worker's status in listings.</summary>
public static class WorkerStatuses
{
    public const string Active = "ACTIVE";
    public const string Unhealthy = "UNHEALTHY";
    public const string Dead = "DEAD";

    /// <summary>DEAD once declared so (or silent for Workers:DeadAfter), UNHEALTHY once silent for
    /// two heartbeat intervals, else ACTIVE.</summary>
    public static string Of(string declared, TimeSpan silentFor, WorkerOptions options) =>
        declared == Dead || silentFor > options.DeadAfter ? Dead
        : silentFor > 2 * options.HeartbeatInterval ? Unhealthy
        : Active;
}
