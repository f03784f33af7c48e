using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Catalog;
using OrleansScheduler.Grains.History;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tasks;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.History;

/// <summary>The dashboard's history and graph statements (issue 10, point 7) on a real database,
/// written once for both engines: a task that fails is counted in its second, one that completes in
/// its own, a sample of the queue depth reads the counters, and the graph walks the edges both ways.</summary>
public abstract class HistoryStorageContract : IAsyncLifetime
{
    private SchedulerDatabase? _database;

    /// <summary>An open (migrated) database of its own; skips the test when the engine has no server here.</summary>
    protected abstract Task<SchedulerDatabase> OpenAsync();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Failures_completions_samples_and_the_graph_are_read_back()
    {
        var database = _database = await OpenAsync();
        var reads = new HistoryReadModel(database);
        var now = DateTimeOffset.UtcNow;
        // up -> mid -> down, up -> side; alone runs on its own.
        var plan = Specs.Plan(Specs.Task("up"), Specs.Task("mid", "up"), Specs.Task("down", "mid"), Specs.Task("side", "up"), Specs.Task("alone"), Specs.Task("doomed"));
        var states = TaskBatch.NewStates(plan, [], now, new SchedulerOptions());
        await database.WriteAsync(write => TaskBatch.InsertAll(write, states));

        var sampler = new QueueDepthSampler(database, Options.Create(new HistoryOptions()), TimeProvider.System, NullLogger<QueueDepthSampler>.Instance);
        await sampler.SampleAsync();
        var sample = (await reads.QueueDepthSinceAsync(now.ToUnixTimeSeconds() - 60)).Last();
        Assert.Equal((3L, 3L, 0L), (sample.Queued, sample.Waiting, sample.Running));

        await EndAsync(database, "alone", TaskStatus.Completed, now);
        await EndAsync(database, "doomed", TaskStatus.Failed, now);
        await EndAsync(database, "up", TaskStatus.Completed, now);
        var since = now.ToUnixTimeSeconds() - 60;
        Assert.Equal(2, (await reads.CompletionsSinceAsync(since)).Sum(r => r.Count));
        Assert.Equal([(now.ToUnixTimeSeconds(), 1L)], await reads.FailuresSinceAsync(since));

        var graph = await TaskGraphBuilder.BuildAsync(reads, "mid", 3, 100, now);
        Assert.NotNull(graph);
        Assert.Equal(["down:1:WAITING", "mid:0:WAITING", "up:-1:COMPLETED"], graph.Nodes.Select(n => $"{n.Id}:{n.Level}:{n.Status.ToName()}").Order(StringComparer.Ordinal));
        Assert.Equal(["mid->down", "up->mid"], graph.Edges.Select(e => $"{e.From}->{e.To}").Order(StringComparer.Ordinal));
        Assert.Equal(["up", "mid", "down"], graph.CriticalPath);
        var fromUp = await TaskGraphBuilder.BuildAsync(reads, "up", 3, 100, now);
        Assert.Equal(["down:2", "mid:1", "side:1", "up:0"], fromUp!.Nodes.Select(n => $"{n.Id}:{n.Level}").Order(StringComparer.Ordinal));
        Assert.Null(await TaskGraphBuilder.BuildAsync(reads, "nobody", 3, 100, now));
    }

    /// <summary>Runs a QUEUED task's attempt to <paramref name="end"/> as the grain would write it.</summary>
    private static async Task EndAsync(SchedulerDatabase database, string id, TaskStatus end, DateTimeOffset now)
    {
        var (state, version) = (await TaskRows.ReadAsync(database, id))!.Value;
        TaskStateMachine.Move(state, TaskStatus.Running, now, "attempt 1 started", "silo-a", 1);
        (state.Attempts, state.StartedAt) = (1, now);
        (_, version) = await database.WriteAsync(write => TaskRows.Write(write, state, version));
        state.NewEvents.Clear();
        TaskStateMachine.Move(state, end, now, end == TaskStatus.Failed ? "failed" : "completed", "silo-a", 1);
        state.CompletedAt = now;
        state.StoredStatus = TaskStatus.Running;
        await database.WriteAsync(write => TaskRows.Write(write, state, version));
    }
}
