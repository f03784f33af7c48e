namespace OrleansScheduler.Grains.Storage;

/// <summary>Where and how state is stored. Bound from the "Storage" section; DATABASE_URL also sets
/// <see cref="DatabaseUrl"/>.</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";
    public const string DefaultDatabaseUrl = "data/scheduler.db";

    /// <summary>A SQLite file path (default data/scheduler.db, relative to the working directory).</summary>
    public string DatabaseUrl { get; set; } = DefaultDatabaseUrl;

    /// <summary>SQLite's synchronous setting. NORMAL (the default) in WAL mode makes every commit
    /// survive a crash of the process (kill -9), which is what the promises need; FULL also
    /// survives a power cut, at the cost of an fsync per commit.</summary>
    public string Synchronous { get; set; } = "NORMAL";

    /// <summary>Most grain writes committed together in one transaction (group commit).</summary>
    public int MaxTurnsPerCommit { get; set; } = 1024;

    /// <summary>PostgreSQL: writer connections per silo, each committing a batch at a time; two let
    /// one batch fill while the other commits.</summary>
    public int PostgresWriters { get; set; } = 2;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabaseUrl))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(DatabaseUrl)} (DATABASE_URL) must name a database.");
        }

        if (Synchronous is not ("NORMAL" or "FULL" or "EXTRA"))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(Synchronous)} must be NORMAL, FULL or EXTRA, not '{Synchronous}'.");
        }

        if (MaxTurnsPerCommit is < 1 or > 100_000)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxTurnsPerCommit)} must be from 1 to 100000.");
        }

        if (PostgresWriters is < 1 or > 16)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(PostgresWriters)} must be from 1 to 16.");
        }
    }
}
