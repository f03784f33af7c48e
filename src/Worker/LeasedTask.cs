using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansScheduler.Worker;

/// <summary>One task of a lease answer.</summary>
internal sealed record LeasedTask(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("payload")] JsonElement Payload,
    [property: JsonPropertyName("attempt")] int Attempt,
    [property: JsonPropertyName("max_attempts")] int MaxAttempts,
    [property: JsonPropertyName("timeout_ms")] long? TimeoutMs,
    [property: JsonPropertyName("lease_token")] string LeaseToken);
