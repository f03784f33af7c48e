using System.Globalization;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansScheduler.Grains.Concurrency;

namespace OrleansScheduler.Grains.Storage;

/// <summary>The ConcurrencyGrain's grain storage (provider <see cref="StorageNames.Slots"/>): a
/// version row (the ETag) and one row per held slot, written in the silo's group commit with the
/// task writes. Its own provider rather than Orleans' ADO.NET storage: that would be a second writer
/// on the SQLite file and a round trip of its own per grant batch (docs/architecture.md).</summary>
internal sealed class ConcurrencyStateStorage(SchedulerDatabase database) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreFailures.GuardAsync(database, () => ReadAsync(grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreFailures.GuardAsync(database, () => WriteAsync(grainState));

    private async Task ReadAsync<T>(IGrainState<T> grainState)
    {
        var state = new ConcurrencyState();
        var version = await database.ReadAsync(async session =>
        {
            long? version = null;
            await using (var reader = await session.Command("ReadConcurrency").ExecuteReaderAsync().ConfigureAwait(false))
            {
                if (await reader.ReadAsync().ConfigureAwait(false))
                {
                    version = reader.GetInt64(0);
                    state.NextGrant = reader.GetInt64(1);
                }
            }

            await using (var reader = await session.Command("ReadHolders").ExecuteReaderAsync().ConfigureAwait(false))
            {
                while (await reader.ReadAsync().ConfigureAwait(false))
                {
                    state.Holders[reader.GetInt32(0)] = new SlotHolding(reader.GetString(1), reader.GetInt64(2), reader.GetTime(3));
                }
            }

            return version;
        }).ConfigureAwait(false);

        grainState.State = (T)(object)state;
        grainState.ETag = version?.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = version is not null;
    }

    private async Task WriteAsync<T>(IGrainState<T> grainState)
    {
        var state = (ConcurrencyState)(object)grainState.State!;
        long? version = grainState.ETag is { } etag ? long.Parse(etag, CultureInfo.InvariantCulture) : null;
        var dirty = state.Dirty.ToList();
        var holders = dirty.ToDictionary(slot => slot, slot => state.Holders.GetValueOrDefault(slot));
        var nextGrant = state.NextGrant;
        var written = await database.WriteAsync(write => Write(write, version, nextGrant, holders)).ConfigureAwait(false);
        foreach (var slot in dirty)
        {
            state.Dirty.Remove(slot);
        }

        grainState.ETag = written.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        throw new NotSupportedException("The ConcurrencyGrain's holders are never cleared.");

    private static long Write(DbWrite write, long? version, long nextGrant, Dictionary<int, SlotHolding?> holders)
    {
        long written;
        if (version is not { } expected)
        {
            if (write.Command("InsertConcurrency").Bind("@next_grant", nextGrant).ExecuteNonQuery() == 0)
            {
                throw new InconsistentStateException("The ConcurrencyGrain's state was created by another activation.", storedEtag: null, currentEtag: null);
            }

            written = 0;
        }
        else if (write.Command("UpdateConcurrency").Bind("@next_grant", nextGrant).Bind("@version", expected).ExecuteNonQuery() == 0)
        {
            throw new InconsistentStateException(
                $"The ConcurrencyGrain's state was written by another activation since this one read it (version {expected} is stale).",
                expected.ToString(CultureInfo.InvariantCulture), currentEtag: null);
        }
        else
        {
            written = expected + 1;
        }

        foreach (var (slot, holder) in holders)
        {
            if (holder is null)
            {
                write.Command("DeleteHolder").Bind("@slot_no", slot).ExecuteNonQuery();
            }
            else
            {
                write.Command("UpsertHolder")
                    .Bind("@slot_no", slot)
                    .Bind("@task_id", holder.TaskId)
                    .Bind("@grant_id", holder.GrantId)
                    .Bind("@granted_at", holder.GrantedAt.ToUnixTimeMilliseconds())
                    .ExecuteNonQuery();
            }
        }

        return written;
    }
}
