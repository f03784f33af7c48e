using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansScheduler.Testing;
using Xunit.Abstractions;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>What Orleans' ADO.NET grain storage must do on our scripts, whatever the engine: a
/// silo with two AdoNet storages (<see cref="StorageNames.Keep"/> and, with DeleteStateOnClear,
/// <see cref="StorageNames.Delete"/>) on a freshly migrated database of the test's own.</summary>
public abstract class GrainStorageContract(ITestOutputHelper output)
{
    protected ITestOutputHelper Output => output;

    /// <summary>Starts a silo of a new cluster (its own ServiceId) whose two storages use a
    /// database migrated by the production migrator.</summary>
    protected abstract Task<StorageUnderTest> StartAsync(string test);

    [SkippableFact]
    public async Task State_survives_deactivation_a_stale_etag_is_refused_and_clear_keeps_a_versioned_row()
    {
        await using var under = await StartAsync(nameof(State_survives_deactivation_a_stale_etag_is_refused_and_clear_keeps_a_versioned_row));
        var grain = under.Silo.Grains.GetGrain<IGuidStateProbeGrain>(Guid.NewGuid());

        var fresh = await grain.Read();
        Assert.Equal(("", 0, null, false), (fresh.Text, fresh.Writes, fresh.ETag, fresh.RecordExists));
        Assert.Equal(0L, await under.CountAsync());

        Assert.Equal("1", (await grain.Write("one")).ETag);
        var written = await grain.Write("two");
        Assert.Equal(("2", true), (written.ETag, written.RecordExists));
        Assert.Equal(1L, await under.CountAsync("version = 2 AND payload IS NOT NULL"));

        // A new activation reads the state back from the table.
        var reread = await ReactivateAsync(grain, written.Activation);
        Assert.Equal(("two", 2, "2", true), (reread.Text, reread.Writes, reread.ETag, reread.RecordExists));

        // Someone else wrote meanwhile (the row's version moved on): this activation's write is
        // refused, and the next activation reads the current version and can write again.
        Assert.Equal(1, await under.ExecuteAsync("UPDATE orleans_storage SET version = version + 1 WHERE service_id = @s"));
        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.Write("three"));
        var recovered = await ReactivateAsync(grain, reread.Activation);
        Assert.Equal(("two", "3"), (recovered.Text, recovered.ETag));
        Assert.Equal("4", (await grain.Write("four")).ETag);

        // Clear keeps the row, without payload, at the next version; the grain starts over from a
        // default state, and its next write updates that row.
        var cleared = await grain.Clear();
        Assert.Equal(("", 0, "5", false), (cleared.Text, cleared.Writes, cleared.ETag, cleared.RecordExists));
        Assert.Equal(1L, await under.CountAsync("version = 5 AND payload IS NULL"));
        var afterClear = await ReactivateAsync(grain, cleared.Activation);
        Assert.Equal(("", "5", false), (afterClear.Text, afterClear.ETag, afterClear.RecordExists));
        Assert.Equal("6", (await grain.Write("five")).ETag);
        Assert.Equal(1L, await under.CountAsync("version = 6 AND payload IS NOT NULL"));
    }

    [SkippableFact]
    public async Task The_storage_refuses_every_write_that_does_not_hold_the_current_version()
    {
        await using var under = await StartAsync(nameof(The_storage_refuses_every_write_that_does_not_hold_the_current_version));
        var storage = under.Silo.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Keep);
        var grainId = GrainId.Create("storage-contract", Guid.NewGuid().ToString("N"));
        const string GrainType = "OrleansScheduler.Tests.StorageContractGrain";

        // Never written: no state, no ETag.
        var read = new GrainState<ProbeState>(new ProbeState());
        await storage.ReadStateAsync(GrainType, grainId, read);
        Assert.Equal((null, false), (read.ETag, read.RecordExists));

        var mine = new GrainState<ProbeState>(new ProbeState { Text = "mine" });
        await storage.WriteStateAsync(GrainType, grainId, mine);
        Assert.Equal("1", mine.ETag);

        // A second writer that never read the state (no ETag) must not overwrite it: the insert
        // finds the row, and Orleans must be told so rather than see a success.
        var blind = new GrainState<ProbeState>(new ProbeState { Text = "blind" });
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(GrainType, grainId, blind));

        // A writer with an old ETag is refused; so is a clear with one.
        var stale = new GrainState<ProbeState>(new ProbeState { Text = "stale" }, "1");
        mine.State!.Text = "mine again";
        await storage.WriteStateAsync(GrainType, grainId, mine);
        Assert.Equal("2", mine.ETag);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(GrainType, grainId, stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(GrainType, grainId, stale));

        // An ETag for a row that does not exist (another grain type, same key) is refused too.
        var ghost = new GrainState<ProbeState>(new ProbeState { Text = "ghost" }, "7");
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(GrainType + "Other", grainId, ghost));

        read = new GrainState<ProbeState>(new ProbeState());
        await storage.ReadStateAsync(GrainType, grainId, read);
        Assert.Equal(("mine again", "2", true), (read.State!.Text, read.ETag, read.RecordExists));
        Assert.Equal(1L, await under.CountAsync());
    }

    [SkippableFact]
    public async Task String_guid_and_compound_keys_are_separate_states()
    {
        await using var under = await StartAsync(nameof(String_guid_and_compound_keys_are_separate_states));
        var grains = under.Silo.Grains;
        var probes = new (IStateProbe Grain, string Text)[]
        {
            (grains.GetGrain<IStringStateProbeGrain>("alpha"), "string alpha"),
            (grains.GetGrain<IStringStateProbeGrain>("beta"), "string beta"),
            (grains.GetGrain<ICompoundStateProbeGrain>(5, "x"), "compound 5 x"),
            (grains.GetGrain<ICompoundStateProbeGrain>(5, "y"), "compound 5 y"),
            (grains.GetGrain<ICompoundStateProbeGrain>(6, "x"), "compound 6 x"),
            (grains.GetGrain<IGuidStateProbeGrain>(Guid.NewGuid()), "guid"),
        };
        var activations = new List<Guid>();
        foreach (var (grain, text) in probes)
        {
            var written = await grain.Write(text);
            Assert.Equal("1", written.ETag);
            activations.Add(written.Activation);
        }

        Assert.Equal(probes.Length, await under.CountAsync());
        for (var i = 0; i < probes.Length; i++)
        {
            var read = await ReactivateAsync(probes[i].Grain, activations[i]);
            Assert.Equal((probes[i].Text, "1"), (read.Text, read.ETag));
        }
    }

    [SkippableFact]
    public async Task With_delete_state_on_clear_the_row_goes_and_a_later_write_starts_over()
    {
        await using var under = await StartAsync(nameof(With_delete_state_on_clear_the_row_goes_and_a_later_write_starts_over));
        var grain = under.Silo.Grains.GetGrain<IDeletingStateProbeGrain>(Guid.NewGuid());

        Assert.Equal("1", (await grain.Write("one")).ETag);
        Assert.Equal("2", (await grain.Write("two")).ETag);
        var cleared = await grain.Clear();
        Assert.Equal(("", null, false), (cleared.Text, cleared.ETag, cleared.RecordExists));
        Assert.Equal(0L, await under.CountAsync());

        var reread = await ReactivateAsync(grain, cleared.Activation);
        Assert.Equal(("", null, false), (reread.Text, reread.ETag, reread.RecordExists));
        Assert.Equal("1", (await grain.Write("again")).ETag);

        // Deleting with a version someone else moved on is refused, and the row stays.
        Assert.Equal(1, await under.ExecuteAsync("UPDATE orleans_storage SET version = version + 1 WHERE service_id = @s"));
        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.Clear());
        Assert.Equal(1L, await under.CountAsync("version = 2"));
    }

    /// <summary>Deactivates the grain and answers what a new activation read from storage.</summary>
    protected static async Task<ProbeSnapshot> ReactivateAsync(IStateProbe grain, Guid activation)
    {
        await grain.Deactivate();
        return await Poll.UntilAsync(
            "a new activation of the grain answers",
            grain.Read,
            s => s.Activation != activation,
            s => $"still activation {s.Activation}");
    }
}

/// <summary>A running silo and the database behind its storages.</summary>
public abstract class StorageUnderTest(OrleansSilo silo, string serviceId) : IAsyncDisposable
{
    public OrleansSilo Silo { get; } = silo;

    public string ServiceId { get; } = serviceId;

    /// <summary>Runs a statement on the database; @s is bound to this silo's ServiceId.</summary>
    public abstract Task<int> ExecuteAsync(string sql);

    /// <summary>Counts this ServiceId's rows of orleans_storage that match a condition.</summary>
    public abstract Task<long> CountAsync(string condition = "true");

    public virtual async ValueTask DisposeAsync()
    {
        await Silo.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
