namespace OrleansScheduler;

/// <summary>A page request over tasks in submission order.</summary>
/// <param name="After">Cursor: the page starts after this position (from the previous page).</param>
/// <param name="Offset">Rows to skip; cursors are the cheap way, offset is kept for seed 004.</param>
[GenerateSerializer, Immutable]
public sealed record TaskQuery(TaskStatus? Status, string? Type, int Limit, long? After, int Offset)
{
    /// <summary>Any of several statuses (e.g. seed 004's "pending"); when set, it replaces
    /// <see cref="Status"/>.</summary>
    [Id(5)]
    public IReadOnlyList<TaskStatus>? AnyStatus { get; init; }

    /// <summary>Newest submissions first; <see cref="After"/> is then the cursor to continue
    /// below (older than), not above.</summary>
    [Id(6)]
    public bool NewestFirst { get; init; }

    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
}

/// <param name="NextCursor">Null on the last page.</param>
[GenerateSerializer, Immutable]
public sealed record TaskPage(IReadOnlyList<TaskSummary> Items, long? NextCursor);
