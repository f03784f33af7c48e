using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage;

namespace OrleansScheduler.Silo.Tests.TestCluster;

/// <summary>One silo's view of the shared database. Killing it makes every later call fail, as
/// the database sees a process that died: no heartbeats, no reports, no claims. Whatever the
/// dead silo's handlers still do in this process can no longer reach the cluster's state.</summary>
public sealed class KillableStore(ITaskStore inner, bool ownsInner) : ITaskStore
{
    private volatile bool _killed;

    public void Kill() => _killed = true;

    private ITaskStore Inner => _killed ? throw new InvalidOperationException("This silo was killed.") : inner;

    public Task InitializeAsync(CancellationToken cancellationToken) => Inner.InitializeAsync(cancellationToken);

    public Task<IReadOnlyList<SubmittedTask>> SubmitAsync(DagPlan plan, CancellationToken cancellationToken) => Inner.SubmitAsync(plan, cancellationToken);

    public Task<IReadOnlyList<AttemptLease>> ClaimAsync(string siloId, int max, CancellationToken cancellationToken) => Inner.ClaimAsync(siloId, max, cancellationToken);

    public Task<bool> ReportAsync(AttemptOutcome outcome, CancellationToken cancellationToken) => Inner.ReportAsync(outcome, cancellationToken);

    public Task<bool> HandBackAsync(AttemptLease lease, string reason, CancellationToken cancellationToken) => Inner.HandBackAsync(lease, reason, cancellationToken);

    public Task<TaskStatus?> CancelAsync(string id, CancellationToken cancellationToken) => Inner.CancelAsync(id, cancellationToken);

    public Task<TaskStatus?> RetryAsync(string id, CancellationToken cancellationToken) => Inner.RetryAsync(id, cancellationToken);

    public Task<DateTimeOffset?> FireRemindersAsync(int max, CancellationToken cancellationToken) => Inner.FireRemindersAsync(max, cancellationToken);

    public Task<TaskView?> GetAsync(string id, CancellationToken cancellationToken) => Inner.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<TaskEvent>?> GetEventsAsync(string id, CancellationToken cancellationToken) => Inner.GetEventsAsync(id, cancellationToken);

    public Task<TaskPage> ListAsync(TaskQuery query, CancellationToken cancellationToken) => Inner.ListAsync(query, cancellationToken);

    public Task<SchedulerStats> GetStatsAsync(CancellationToken cancellationToken) => Inner.GetStatsAsync(cancellationToken);

    public Task<SlotsView> GetSlotsAsync(CancellationToken cancellationToken) => Inner.GetSlotsAsync(cancellationToken);

    public Task RegisterSiloAsync(SiloView silo, CancellationToken cancellationToken) => Inner.RegisterSiloAsync(silo, cancellationToken);

    public Task<IReadOnlyList<HeldAttempt>> HeartbeatAsync(string siloId, IReadOnlyList<HeldAttempt> running, CancellationToken cancellationToken) =>
        Inner.HeartbeatAsync(siloId, running, cancellationToken);

    public Task<HandOver> ReleaseAndClaimAsync(IReadOnlyList<AttemptOutcome> finished, string siloId, int max, CancellationToken cancellationToken) =>
        Inner.ReleaseAndClaimAsync(finished, siloId, max, cancellationToken);

    public Task MarkSiloStoppedAsync(string siloId, CancellationToken cancellationToken) => Inner.MarkSiloStoppedAsync(siloId, cancellationToken);

    public Task<IReadOnlyList<SiloView>> GetSilosAsync(CancellationToken cancellationToken) => Inner.GetSilosAsync(cancellationToken);

    public Task<bool> PingAsync(CancellationToken cancellationToken) => Inner.PingAsync(cancellationToken);

    public ValueTask DisposeAsync() => ownsInner ? inner.DisposeAsync() : ValueTask.CompletedTask;
}
