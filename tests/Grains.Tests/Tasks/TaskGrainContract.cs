using System.Text.Json;
using OrleansScheduler.Grains.Tasks;
using OrleansScheduler.Grains.Tests.Cluster;
using OrleansScheduler.Testing;

namespace OrleansScheduler.Grains.Tests.Tasks;

/// <summary>What the scheduler's grains promise, written once and run on each engine (thin
/// subclasses: one SQLite silo, several PostgreSQL silos), through ITaskGrain, ITaskCatalogGrain and
/// IConcurrencyGrain calls on a real cluster, reading results through the grains and the database.
/// The class's tests share one cluster (limit 2): each test names its tasks with a prefix of its
/// own, and opens its gates when it ends, so no test holds a slot another one needs. Split by
/// concern: submission (.Submit), the DAG (.Dependencies), attempts (.Attempts), fences (.Fences),
/// cancel and retry (.CancelRetry), the ConcurrencyGrain (.Slots), the catalog (.Catalog).</summary>
public abstract partial class TaskGrainContract(SchedulerClusterFixture fixture) : IAsyncLifetime
{
    private readonly string _prefix = Guid.NewGuid().ToString("N")[..6];
    private readonly List<string> _gates = [];

    protected SchedulerCluster Cluster => fixture.Cluster;

    protected IGrainFactory Grains => Cluster.Grains;

    protected ClusterProbe Probe => Cluster.Probe;

    /// <summary>The shared cluster's limit (see <see cref="SchedulerClusterOptions.MaxConcurrentTasks"/>).</summary>
    protected int Limit => Cluster.Options.MaxConcurrentTasks;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        if (_gates.Count > 0 && TryCluster() is { } cluster)
        {
            foreach (var id in _gates)
            {
                cluster.Probe.Open(id);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>This test's name for a task: unique on the shared cluster.</summary>
    protected string Id(string name) => $"{_prefix}-{name}";

    protected ITaskGrain Grain(string id) => Grains.GetTaskGrain(id);

    /// <summary>A task the simulator runs (no handler has its type): duration 0, defaults.</summary>
    protected TaskSpec Sim(string id, params string[] dependencies) =>
        new(id, "sim", 0, dependencies, null, TaskSpec.DefaultPriority, null, null, TaskSpec.DefaultMaxAttempts);

    /// <summary>A task of type "gate": it runs until the test opens it (opened at the test's end).</summary>
    protected TaskSpec Gate(string id, params string[] dependencies)
    {
        _gates.Add(id);
        return Sim(id, dependencies) with { Type = GateHandler.TypeName };
    }

    protected static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    protected async Task<SubmittedTask> SubmitAsync(TaskSpec spec) => await Grain(spec.Id).SubmitAsync(spec);

    protected async Task<TaskView> GetAsync(string id) =>
        await Grain(id).GetAsync() ?? throw new Xunit.Sdk.XunitException($"task '{id}' does not exist");

    protected async Task<IReadOnlyList<TaskEvent>> EventsAsync(string id) =>
        await Grain(id).GetEventsAsync() ?? throw new Xunit.Sdk.XunitException($"task '{id}' does not exist");

    /// <summary>Waits until the task satisfies <paramref name="done"/>; on timeout the message has
    /// the task, its history and the silos' recent warnings.</summary>
    protected async Task<TaskView> WaitForAsync(string id, Func<TaskView, bool> done, string what, TimeSpan? timeout = null)
    {
        try
        {
            return await Poll.UntilAsync($"{id} {what}", () => GetAsync(id), done, t => t.Status.ToName(), timeout ?? TimeSpan.FromSeconds(20));
        }
        catch (Xunit.Sdk.XunitException ex)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}{Environment.NewLine}{await DescribeAsync(id)}");
        }
    }

    protected Task<TaskView> WaitForStatusAsync(string id, TaskStatus status, TimeSpan? timeout = null) =>
        WaitForAsync(id, t => t.Status == status, $"is {status.ToName()}", timeout);

    /// <summary>Waits until a gated task's handler runs (its attempt is RUNNING and in the executor).</summary>
    protected async Task WaitUntilRunningAsync(string id, int attempt = 1)
    {
        await WaitForAsync(id, t => t.Status == TaskStatus.Running && t.Attempts == attempt, $"runs attempt {attempt}");
        await Poll.UntilAsync($"the handler of {id} runs attempt {attempt}",
            () => System.Threading.Tasks.Task.FromResult(Probe.ExecutionsOf(id)),
            executions => executions.Any(e => e.Attempt == attempt && e.Outcome is null),
            executions => string.Join(", ", executions));
    }

    /// <summary>Waits until the last execution of the task's handler satisfies <paramref name="done"/>.</summary>
    protected Task<IReadOnlyList<ClusterProbe.Execution>> WaitForHandlerAsync(string id, Func<ClusterProbe.Execution, bool> done, string what) =>
        Poll.UntilAsync($"the handler of {id} {what}",
            () => System.Threading.Tasks.Task.FromResult(Probe.ExecutionsOf(id)),
            executions => executions.Count > 0 && done(executions[^1]),
            executions => string.Join(", ", executions));

    /// <summary>The task, its history and the silos' recent warnings, for a failure's message.</summary>
    protected async Task<string> DescribeAsync(string id)
    {
        var view = await Grain(id).GetAsync();
        var events = await Grain(id).GetEventsAsync() ?? [];
        return $"task {id}: {(view is null ? "missing" : $"{view.Status.ToName()} attempts {view.Attempts}/{view.MaxAttempts} error '{view.Error}' blocked_by '{view.BlockedBy?.Message}'")}"
            + Environment.NewLine + string.Join(Environment.NewLine, events.Select(e => $"  {e.At:HH:mm:ss.fff} {e.From?.ToName() ?? "-"} -> {e.To.ToName()} silo={e.SiloId} attempt={e.Attempt} {e.Reason}"))
            + Environment.NewLine + "handlers: " + string.Join(", ", Probe.ExecutionsOf(id))
            + Environment.NewLine + "silo log:" + Environment.NewLine + Cluster.RecentLog();
    }

    /// <summary>The task's history is a walk of the lifecycle: it starts with the submission, each
    /// event leaves the status the one before entered, every step is a transition
    /// <see cref="TaskStateMachine.CanTransition"/> allows, times never go back, and every step says why.</summary>
    protected async Task<IReadOnlyList<TaskEvent>> AssertHistoryAsync(string id, params (TaskStatus? From, TaskStatus To)[] expected)
    {
        var events = await EventsAsync(id);
        var history = string.Join(", ", events.Select(e => $"{e.From?.ToName() ?? "-"}->{e.To.ToName()}"));
        Assert.True(events.Count > 0, $"{id} has no history");
        Assert.True(events[0].From is null, $"{id}'s history does not start with its submission: {history}");
        for (var i = 1; i < events.Count; i++)
        {
            var (before, e) = (events[i - 1], events[i]);
            Assert.True(e.From == before.To, $"{id}: event {i} leaves {e.From?.ToName()} but the one before entered {before.To.ToName()}: {history}");
            Assert.True(TaskStateMachine.CanTransition(e.From!.Value, e.To), $"{id}: {e.From?.ToName()} -> {e.To.ToName()} is not a transition of the lifecycle: {history}");
            Assert.True(e.At >= before.At, $"{id}: event {i} at {e.At:O} is before the one before it at {before.At:O}");
        }

        Assert.All(events, e => Assert.False(string.IsNullOrWhiteSpace(e.Reason), $"{id}: a step without a reason: {history}"));
        Assert.All(events.Where(e => e.To == TaskStatus.Running), e => Assert.True(e.SiloId is not null && e.Attempt > 0, $"{id}: a start without its silo and attempt: {history}"));
        if (expected.Length > 0)
        {
            Assert.True(expected.SequenceEqual(events.Select(e => (e.From, e.To))),
                $"{id}: history {history}, expected {string.Join(", ", expected.Select(x => $"{x.From?.ToName() ?? "-"}->{x.To.ToName()}"))}");
        }

        return events;
    }

    /// <summary>When the task's <paramref name="nth"/> event into <paramref name="to"/> happened.</summary>
    protected static DateTimeOffset When(IReadOnlyList<TaskEvent> events, TaskStatus to, int nth = 1) =>
        events.Where(e => e.To == to).Skip(nth - 1).First().At;

    private SchedulerCluster? TryCluster()
    {
        try
        {
            return fixture.Cluster;
        }
        catch (Exception ex) when (ex is InvalidOperationException || ex.GetType().Name == "SkipException")
        {
            return null;
        }
    }
}
