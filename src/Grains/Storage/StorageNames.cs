namespace OrleansScheduler.Grains.Storage;

/// <summary>The grain storage providers a silo registers.</summary>
public static class StorageNames
{
    /// <summary>TaskGrain state in the tasks tables (<see cref="TaskStateStorage"/>).</summary>
    public const string Tasks = "tasks";

    /// <summary>The ConcurrencyGrain's holders in the slot_holders table (<see cref="ConcurrencyStateStorage"/>).</summary>
    public const string Slots = "slots";

    /// <summary>Orleans' own ADO.NET grain storage over the same database, for grains whose state
    /// is small and rarely written (one row and one write per call).</summary>
    public const string AdoNet = "adonet";
}
