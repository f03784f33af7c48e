using System.Text.Json;

namespace OrleansScheduler.WebApi.Requests;

/// <summary>The body of POST /api/tasks, for the OpenAPI document. Requests are parsed by
/// <see cref="TaskRequestParser"/>, which also takes the seeds' aliases (task_id, task_type, name,
/// timeout in seconds).</summary>
public sealed record TaskSubmission(
    string? Id,
    string Type,
    long? DurationMs,
    IReadOnlyList<string>? Dependencies,
    JsonElement? Payload,
    int? Priority,
    DateTimeOffset? RunAt,
    long? TimeoutMs,
    int? MaxAttempts);
