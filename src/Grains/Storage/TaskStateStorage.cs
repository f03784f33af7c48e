using System.Globalization;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansScheduler.Grains.Tasks;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The grain storage of TaskGrains (provider <see cref="StorageNames.Tasks"/>): each
/// task's state is its row of the tasks table, its edges and its events, so the same tables are the
/// read model of lists, counters and the dashboard. Writes from every grain of the silo are
/// group-committed; the row's version is the ETag, and a stale write fails with
/// <see cref="InconsistentStateException"/>, which is the fence for a late report from a lost attempt
/// and for a second activation.</summary>
internal sealed class TaskStateStorage(SchedulerDatabase database) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreFailures.GuardAsync(database, () => ReadAsync(grainId, grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreFailures.GuardAsync(database, () => WriteAsync(grainState));

    private async Task ReadAsync<T>(GrainId grainId, IGrainState<T> grainState)
    {
        var id = grainId.Key.ToString()!;
        var read = await TaskRows.ReadAsync(database, id).ConfigureAwait(false);
        if (read is not { } found)
        {
            grainState.State = (T)(object)new TaskState { Id = id };
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }

        grainState.State = (T)(object)found.State;
        grainState.ETag = found.Version.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    private async Task WriteAsync<T>(IGrainState<T> grainState)
    {
        var state = (TaskState)(object)grainState.State!;
        long? version = grainState.ETag is { } etag ? long.Parse(etag, CultureInfo.InvariantCulture) : null;
        var (seq, written) = await database.WriteAsync(write => TaskRows.Write(write, state, version)).ConfigureAwait(false);
        state.Seq = seq;
        state.StoredStatus = state.Status;
        state.NewEvents.Clear();
        grainState.ETag = written.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    /// <summary>Tasks are history: nothing clears one.</summary>
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        throw new NotSupportedException("Task state is never cleared: a task's row is its history.");
}
