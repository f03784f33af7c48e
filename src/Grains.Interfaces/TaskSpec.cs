using System.Text.Json;

namespace OrleansScheduler;

/// <summary>What a user submits: one node of the DAG.</summary>
/// <param name="Id">1-128 characters of letters, digits, '-', '_', '.', ':'.</param>
/// <param name="Type">Selects the handler; a type without one runs the simulator.</param>
/// <param name="DurationMs">How long the simulator waits, 0 to 86,400,000.</param>
/// <param name="Dependencies">Ids of tasks that must COMPLETE first.</param>
/// <param name="Payload">Any JSON, handed to the handler as it came.</param>
/// <param name="Priority">1 to 10, higher first.</param>
/// <param name="RunAt">Not before this time.</param>
/// <param name="TimeoutMs">An attempt running longer is cancelled and counts as failed.</param>
/// <param name="MaxAttempts">Attempts before the task ends FAILED.</param>
[GenerateSerializer, Immutable]
public sealed record TaskSpec(
    string Id,
    string Type,
    long DurationMs,
    IReadOnlyList<string> Dependencies,
    JsonElement? Payload,
    int Priority,
    DateTimeOffset? RunAt,
    long? TimeoutMs,
    int MaxAttempts)
{
    public const int MaxIdLength = 128;
    public const long MaxDurationMs = 86_400_000;
    public const int MinPriority = 1;
    public const int MaxPriority = 10;
    public const int DefaultPriority = 5;
    public const int DefaultMaxAttempts = 3;
    public const int MaxMaxAttempts = 100;
    public const long MaxTimeoutMs = 7 * 86_400_000L;
    public const long MaxBackoffMs = 86_400_000;

    /// <summary>Delay before the first retry; each further retry doubles it, up to
    /// <see cref="RetryBackoffMaxMs"/>, with jitter. Null takes the scheduler's default.</summary>
    [Id(9)]
    public long? RetryBackoffMs { get; init; }

    /// <summary>Cap on the retry delay. Null takes the scheduler's default.</summary>
    [Id(10)]
    public long? RetryBackoffMaxMs { get; init; }

    /// <summary>The W3C traceparent of the submitting request (set by the API, not by the caller's
    /// JSON): stored with the task so its attempts and its dependents' release join that trace.</summary>
    [Id(11)]
    public string? TraceParent { get; init; }
}
