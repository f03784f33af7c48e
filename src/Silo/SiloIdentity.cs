namespace OrleansScheduler.Silo;

/// <summary>This process's silo: its id is fixed for the life of the process.</summary>
public sealed class SiloIdentity(string id, DateTimeOffset startedAt)
{
    public string Id { get; } = id;

    public DateTimeOffset StartedAt { get; } = startedAt;
}
