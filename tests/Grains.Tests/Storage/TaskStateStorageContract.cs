using Orleans.Runtime;
using Orleans.Storage;
using OrleansScheduler.Grains.Concurrency;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tasks;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Storage;

/// <summary>The grain storage providers against a real database, written once for both engines:
/// a state read, written and read again; a write with a stale ETag (a second activation, a lost
/// attempt's late report) fails with <see cref="InconsistentStateException"/> and changes nothing.
/// This is the fence under the grains' own (the slot grant).</summary>
public abstract class TaskStateStorageContract : IAsyncLifetime
{
    private SchedulerDatabase? _database;

    /// <summary>An open (migrated) database; skips the test when the engine has no server here.</summary>
    protected abstract Task<SchedulerDatabase> OpenAsync();

    public Task InitializeAsync() => Task.CompletedTask;

    private async Task<SchedulerDatabase> DatabaseAsync() => _database ??= await OpenAsync();

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task A_task_state_is_read_written_and_fenced_by_its_version()
    {
        var database = await DatabaseAsync();
        var storage = new TaskStateStorage(database);
        var id = "fenced-" + Guid.NewGuid().ToString("N")[..8];
        var grain = GrainId.Create("task", id);

        var missing = Stored(new TaskState());
        await storage.ReadStateAsync("task", grain, missing);
        Assert.Equal((false, null, id), (missing.RecordExists, missing.ETag, missing.State.Id));

        var now = DateTimeOffset.UtcNow;
        // The submitting request's trace (issue 10) is kept with the task, on both engines.
        const string traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var first = Stored(TaskGrain.NewTask(Specs.Task(id) with { TraceParent = traceParent }, _ => throw new InvalidOperationException("no dependencies"), now, new SchedulerOptions()));
        await storage.WriteStateAsync("task", grain, first);
        Assert.Equal((true, "0"), (first.RecordExists, first.ETag));
        Assert.True(first.State.Seq > 0);
        Assert.Empty(first.State.NewEvents);

        // Two copies of the same version: the first to write wins.
        var second = Stored(new TaskState());
        await storage.ReadStateAsync("task", grain, second);
        Assert.Equal((true, "0", TaskStatus.Queued, first.State.Seq), (second.RecordExists, second.ETag, second.State.Status, second.State.Seq));
        Assert.Equal(traceParent, second.State.TraceParent);

        TaskStateMachine.Move(first.State, TaskStatus.Running, now, "attempt 1 started", "silo-a", 1);
        first.State.Attempts = 1;
        await storage.WriteStateAsync("task", grain, first);
        Assert.Equal("1", first.ETag);
        var counts = await CountsAsync(database);

        TaskStateMachine.Move(second.State, TaskStatus.Cancelled, now, "cancelled by a stale copy");
        var stale = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("task", grain, second));
        Assert.Contains(id, stale.Message, StringComparison.Ordinal);
        Assert.Equal("0", second.ETag);

        // Nothing of the stale write reached the database: not the row, not an event, not a counter.
        var read = Stored(new TaskState());
        await storage.ReadStateAsync("task", grain, read);
        Assert.Equal(("1", TaskStatus.Running, 1), (read.ETag, read.State.Status, read.State.Attempts));
        var events = await new TaskReadModel(database, TimeProvider.System).EventsAsync(read.State.Seq);
        Assert.Equal([TaskStatus.Queued, TaskStatus.Running], events.Select(e => e.To));
        Assert.Equal(counts, await CountsAsync(database));

        // The fresh copy writes on.
        TaskStateMachine.Move(read.State, TaskStatus.Completed, now, "completed", "silo-a", 1);
        await storage.WriteStateAsync("task", grain, read);
        Assert.Equal("2", read.ETag);
    }

    [SkippableFact]
    public async Task A_first_write_of_a_taken_id_is_refused()
    {
        var storage = new TaskStateStorage(await DatabaseAsync());
        var id = "taken-" + Guid.NewGuid().ToString("N")[..8];
        var grain = GrainId.Create("task", id);
        var now = DateTimeOffset.UtcNow;
        await storage.WriteStateAsync("task", grain, Stored(TaskGrain.NewTask(Specs.Task(id) with { Type = "first" }, _ => throw new InvalidOperationException(), now, new SchedulerOptions())));

        var again = Stored(TaskGrain.NewTask(Specs.Task(id) with { Type = "second" }, _ => throw new InvalidOperationException(), now, new SchedulerOptions()));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("task", grain, again));

        var read = Stored(new TaskState());
        await storage.ReadStateAsync("task", grain, read);
        Assert.Equal(("first", "0"), (read.State.Type, read.ETag));
    }

    [SkippableFact]
    public async Task The_concurrency_state_is_read_written_and_fenced_by_its_version()
    {
        var storage = new ConcurrencyStateStorage(await DatabaseAsync());
        var grain = GrainId.Create("concurrency", "0");
        var a = Stored(new ConcurrencyState());
        await storage.ReadStateAsync("slots", grain, a);
        Assert.False(a.RecordExists);

        a.State.Holders[1] = new SlotHolding("t1", a.State.NextGrant++, DateTimeOffset.UtcNow);
        a.State.Dirty.Add(1);
        await storage.WriteStateAsync("slots", grain, a);
        var b = Stored(new ConcurrencyState());
        await storage.ReadStateAsync("slots", grain, b);
        Assert.Equal((a.ETag, "t1", 2L), (b.ETag, b.State.Holders[1].TaskId, b.State.NextGrant));

        a.State.Holders.Remove(1);
        a.State.Dirty.Add(1);
        await storage.WriteStateAsync("slots", grain, a);

        b.State.Holders[2] = new SlotHolding("t2", b.State.NextGrant++, DateTimeOffset.UtcNow);
        b.State.Dirty.Add(2);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("slots", grain, b));

        var c = Stored(new ConcurrencyState());
        await storage.ReadStateAsync("slots", grain, c);
        Assert.Equal((a.ETag, 0, 2L), (c.ETag, c.State.Holders.Count, c.State.NextGrant));
    }

    private static StoredState<T> Stored<T>(T state) => new(state);

    private static async Task<string> CountsAsync(SchedulerDatabase database)
    {
        var (counts, total, _, _) = await new TaskReadModel(database, TimeProvider.System).StatsAsync();
        return $"{total}: " + string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key.ToName()}={c.Value}"));
    }

    /// <summary>What Orleans hands a storage provider: the state with its ETag.</summary>
    private sealed class StoredState<T>(T state) : IGrainState<T>
    {
        private T _state = state;

        [System.Diagnostics.CodeAnalysis.AllowNull]
        public T State
        {
            get => _state;
            set => _state = value ?? throw new ArgumentNullException(nameof(value));
        }

        public string? ETag { get; set; }

        public bool RecordExists { get; set; }
    }
}
