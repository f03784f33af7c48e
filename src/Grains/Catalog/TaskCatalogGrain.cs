using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansScheduler.Grains.Concurrency;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Execution;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tasks;
using OrleansScheduler.Grains.Telemetry;

namespace OrleansScheduler.Grains.Catalog;

/// <summary>Operations over many tasks: a stateless worker on every silo. A whole DAG is written as
/// its tasks' first states in one commit, without activating a grain per task (activation costs
/// more than a whole warm task: 100,000 activations would take longer than the batch may); each
/// grain reads its row when first called, as after any re-activation. Lists and counters are read
/// from the tables grain storage writes.</summary>
[StatelessWorker]
internal sealed class TaskCatalogGrain(
    TaskReadModel reads,
    SlotRequests slots,
    IAttemptRunner runner,
    Workers.TaskRouting routing,
    IClusterMembershipService membership,
    SchedulerMetrics metrics,
    TimeProvider timeProvider,
    IOptions<SchedulerOptions> options) : Grain, ITaskCatalogGrain
{
    public async Task<IReadOnlyList<SubmittedTask>> SubmitBatchAsync(IReadOnlyList<TaskSpec> specs)
    {
        var plan = DagValidator.Plan(specs);

        // Existing dependencies are subscribed to first: a dependency that completes from here on
        // tells its new dependents (they are woken after the commit in case it finished before).
        var dependents = plan.InOrder
            .SelectMany(spec => spec.Dependencies.Where(plan.ExternalDependencies.Contains).Select(d => (Dependency: d, Dependent: spec.Id)))
            .GroupBy(x => x.Dependency, x => x.Dependent, StringComparer.Ordinal)
            .ToList();
        var answers = await Task.WhenAll(dependents.Select(g =>
            GrainFactory.GetGrain<ITaskGrain>(g.Key).SubscribeAsync(g.Distinct(StringComparer.Ordinal).ToList()))).ConfigureAwait(true);
        var missing = dependents.Where((_, i) => answers[i] is null).Select(g => g.Key).ToList();
        if (missing.Count > 0)
        {
            throw SubmissionErrors.MissingDependencies(missing, single: specs.Count == 1);
        }

        var known = new Dictionary<string, UpstreamStatus>(StringComparer.Ordinal);
        for (var i = 0; i < dependents.Count; i++)
        {
            known[dependents[i].Key] = answers[i]!;
        }

        var now = timeProvider.GetUtcNow();
        var states = TaskBatch.NewStates(plan, known, now, options.Value);
        foreach (var state in states.Where(s => s.Status == TaskStatus.Queued))
        {
            state.Queue = routing.QueueFor(state.Type);
        }

        await reads.Database.WriteAsync(write => TaskBatch.InsertAll(write, states)).ConfigureAwait(true);
        foreach (var state in states)
        {
            metrics.Submitted(state.Type);
        }

        if (states.Any(s => s.Status == TaskStatus.Queued && !s.RunsOnWorker))
        {
            slots.Wake();
        }

        if (states.Any(s => s.Status == TaskStatus.Queued && s.RunsOnWorker))
        {
            slots.WakeWorkers();
        }

        // Subscribed again now that the dependents' rows are committed: the first subscription lived
        // in the dependency's activation only, and one that went and came back meanwhile read its
        // subscribers from the database without them (TaskGrain.SubscribeAgainAsync says the same).
        await Task.WhenAll(dependents.Select(g =>
            GrainFactory.GetGrain<ITaskGrain>(g.Key).SubscribeAsync(g.Distinct(StringComparer.Ordinal).ToList()))).ConfigureAwait(true);

        // Tasks whose timer is due soon, and tasks waiting on an existing dependency (which may have
        // ended between the subscription and the commit) act on their own state now.
        foreach (var state in states.Where(s =>
            (s.Status == TaskStatus.Scheduled && s.DueAt - now <= TaskGrain.TimerHorizon)
            || (s.Status == TaskStatus.Waiting && s.Dependencies.Any(d => plan.ExternalDependencies.Contains(d.Id)))))
        {
            _ = GrainFactory.GetGrain<ITaskGrain>(state.Id).WakeAsync();
        }

        return states.Select(s => new SubmittedTask(s.Id, s.Status)).ToList();
    }

    public Task<TaskPage> ListAsync(TaskQuery query) => reads.ListAsync(query);

    public async Task<SchedulerStats> GetStatsAsync()
    {
        var (counts, total, throughput, latency) = await reads.StatsAsync().ConfigureAwait(true);
        var slotsView = await GrainFactory.GetGrain<IConcurrencyGrain>(0).GetSlotsAsync().ConfigureAwait(true);
        // This silo's view of membership: no database read per call, as the dashboard polls this.
        var alive = membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        return new SchedulerStats(counts, total, slotsView, alive, throughput, latency);
    }

    public async Task<IReadOnlyList<SiloView>> GetSilosAsync()
    {
        var slotsView = await GrainFactory.GetGrain<IConcurrencyGrain>(0).GetSlotsAsync().ConfigureAwait(true);
        var running = slotsView.Holders.GroupBy(h => h.SiloId).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var hosts = await GrainFactory.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false).ConfigureAwait(true);
        return hosts
            .OrderByDescending(h => h.StartTime)
            .Take(100)
            .Select(h => new SiloView(
                h.SiloName,
                h.HostName,
                new DateTimeOffset(DateTime.SpecifyKind(h.StartTime, DateTimeKind.Utc)),
                new DateTimeOffset(DateTime.SpecifyKind(h.IAmAliveTime > h.StartTime ? h.IAmAliveTime : h.StartTime, DateTimeKind.Utc)),
                SiloStatusName(h.Status),
                runner.Capacity,
                running.GetValueOrDefault(h.SiloName)))
            .ToList();
    }

    private static string SiloStatusName(SiloStatus status) => status switch
    {
        SiloStatus.Active => "ACTIVE",
        SiloStatus.Dead => "DEAD",
        SiloStatus.ShuttingDown or SiloStatus.Stopping => "STOPPING",
        _ => "JOINING",
    };
}
