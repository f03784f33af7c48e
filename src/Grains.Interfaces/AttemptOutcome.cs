using System.Text.Json;

namespace OrleansScheduler;

/// <summary>How an attempt ended: <paramref name="Error"/> null means success.</summary>
[GenerateSerializer, Immutable]
public sealed record AttemptOutcome(AttemptLease Lease, JsonElement? Result, string? Error)
{
    public bool Succeeded => Error is null;

    public static AttemptOutcome Success(AttemptLease lease, JsonElement? result) => new(lease, result, null);

    public static AttemptOutcome Failure(AttemptLease lease, string error) =>
        new(lease, null, string.IsNullOrEmpty(error) ? "failed" : error);
}
