using System.Collections.Concurrent;
using Orleans;
using Orleans.Runtime;

namespace OrleansScheduler.Grains.Tests.OrleansAdoNet;

/// <summary>Names of the grain storage providers the test silos configure.</summary>
internal static class StorageNames
{
    /// <summary>AdoNet storage with ClearStateAsync keeping the row (ClearStorageKey).</summary>
    public const string Keep = "adonet";

    /// <summary>AdoNet storage with DeleteStateOnClear (DeleteStorageKey).</summary>
    public const string Delete = "adonet-delete";
}

[GenerateSerializer]
public sealed class ProbeState
{
    [Id(0)]
    public string Text { get; set; } = "";

    [Id(1)]
    public int Writes { get; set; }
}

/// <summary>What a probe grain's activation holds right now.</summary>
[GenerateSerializer]
public sealed class ProbeSnapshot
{
    [Id(0)]
    public string Text { get; set; } = "";

    [Id(1)]
    public int Writes { get; set; }

    [Id(2)]
    public string? ETag { get; set; }

    [Id(3)]
    public bool RecordExists { get; set; }

    [Id(4)]
    public Guid Activation { get; set; }
}

/// <summary>A grain with persistent state: the methods shared by the key kinds below.</summary>
public interface IStateProbe : IGrain
{
    Task<ProbeSnapshot> Read();

    Task<ProbeSnapshot> Write(string text);

    Task<ProbeSnapshot> Clear();

    /// <summary>Deactivates after this call, so the next call reads the state from storage.</summary>
    Task Deactivate();
}

public interface IGuidStateProbeGrain : IStateProbe, IGrainWithGuidKey;

public interface IStringStateProbeGrain : IStateProbe, IGrainWithStringKey;

public interface ICompoundStateProbeGrain : IStateProbe, IGrainWithIntegerCompoundKey;

/// <summary>Stored by the provider whose ClearStateAsync deletes the row.</summary>
public interface IDeletingStateProbeGrain : IStateProbe, IGrainWithGuidKey;

public abstract class StateProbeGrain(IPersistentState<ProbeState> state) : Grain, IStateProbe
{
    private readonly Guid _activation = Guid.NewGuid();

    public Task<ProbeSnapshot> Read() => Task.FromResult(Snapshot());

    public async Task<ProbeSnapshot> Write(string text)
    {
        state.State.Text = text;
        state.State.Writes++;
        await state.WriteStateAsync();
        return Snapshot();
    }

    public async Task<ProbeSnapshot> Clear()
    {
        await state.ClearStateAsync();
        return Snapshot();
    }

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private ProbeSnapshot Snapshot() => new()
    {
        Text = state.State.Text,
        Writes = state.State.Writes,
        ETag = state.Etag,
        RecordExists = state.RecordExists,
        Activation = _activation,
    };
}

public sealed class GuidStateProbeGrain([PersistentState("probe", StorageNames.Keep)] IPersistentState<ProbeState> state)
    : StateProbeGrain(state), IGuidStateProbeGrain;

public sealed class StringStateProbeGrain([PersistentState("probe", StorageNames.Keep)] IPersistentState<ProbeState> state)
    : StateProbeGrain(state), IStringStateProbeGrain;

public sealed class CompoundStateProbeGrain([PersistentState("probe", StorageNames.Keep)] IPersistentState<ProbeState> state)
    : StateProbeGrain(state), ICompoundStateProbeGrain;

public sealed class DeletingStateProbeGrain([PersistentState("probe", StorageNames.Delete)] IPersistentState<ProbeState> state)
    : StateProbeGrain(state), IDeletingStateProbeGrain;

/// <summary>A grain that registers reminders and counts their ticks.</summary>
public interface IReminderProbeGrain : IGrainWithStringKey
{
    Task Register(string reminder, TimeSpan period);

    Task Unregister(string reminder);

    /// <summary>The names of this grain's reminders, as Orleans reads them from the table.</summary>
    Task<List<string>> Reminders();

    /// <summary>Whether Orleans finds this one reminder.</summary>
    Task<bool> Has(string reminder);

    /// <summary>Which silo this activation runs on.</summary>
    Task<string> Silo();
}

public sealed class ReminderProbeGrain : Grain, IReminderProbeGrain, IRemindable
{
    /// <summary>Ticks received, by "grain/reminder", over every silo of the test process.</summary>
    public static readonly ConcurrentDictionary<string, int> Ticks = new(StringComparer.Ordinal);

    public static string TickKey(string grain, string reminder) => $"{grain}/{reminder}";

    public async Task Register(string reminder, TimeSpan period) =>
        await this.RegisterOrUpdateReminder(reminder, TimeSpan.Zero, period);

    public async Task Unregister(string reminder)
    {
        var found = await this.GetReminder(reminder) ?? throw new InvalidOperationException($"No reminder {reminder}.");
        await this.UnregisterReminder(found);
    }

    public async Task<List<string>> Reminders() =>
        (await this.GetReminders()).Select(r => r.ReminderName).Order(StringComparer.Ordinal).ToList();

    public async Task<bool> Has(string reminder) => await this.GetReminder(reminder) is not null;

    public Task<string> Silo() => Task.FromResult(RuntimeIdentity);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Ticks.AddOrUpdate(TickKey(this.GetPrimaryKeyString(), reminderName), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }
}

/// <summary>A plain grain, for a client to call through a gateway.</summary>
public interface IEchoGrain : IGrainWithIntegerKey
{
    Task<string> Echo(string text);
}

public sealed class EchoGrain : Grain, IEchoGrain
{
    public Task<string> Echo(string text) => Task.FromResult($"{RuntimeIdentity}:{text}");
}
