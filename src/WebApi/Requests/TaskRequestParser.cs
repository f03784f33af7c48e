using System.Text.Json;

namespace OrleansScheduler.WebApi.Requests;

/// <summary>Turns a JSON task object into a <see cref="TaskSpec"/>, collecting an error per bad field
/// (wrong type, out of range, unknown name) instead of stopping at the first. Accepts the seeds'
/// names too: task_id for id, task_type or name for type, timeout (seconds) for timeout_ms.</summary>
public static class TaskRequestParser
{
    private static readonly HashSet<string> KnownFields =
    [
        "id", "task_id", "type", "task_type", "name", "duration_ms", "dependencies", "payload",
        "priority", "run_at", "timeout_ms", "timeout", "max_attempts", "retry_backoff_ms", "retry_backoff_max_ms",
    ];

    public static TaskSpec? Parse(JsonElement task, string prefix, int defaultMaxAttempts, IDictionary<string, List<string>> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (task.ValueKind != JsonValueKind.Object)
        {
            Add(errors, prefix.Length == 0 ? "body" : prefix.TrimEnd('.'), "must be a JSON object");
            return null;
        }

        if (JsonText.FindUnreadable(task, prefix.TrimEnd('.')) is { } unreadable)
        {
            Add(errors, unreadable.Field, unreadable.Reason);
            return null;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in task.EnumerateObject())
        {
            if (!KnownFields.Contains(property.Name))
            {
                Add(errors, prefix + property.Name, $"is not a known field; known fields are {string.Join(", ", KnownFields)}");
            }
            else if (!seen.Add(property.Name))
            {
                // JSON allows a name twice and readers differ on which value wins; the one stored
                // would be a guess, so such a task is refused (found by the property tests, issue 12).
                Add(errors, prefix + property.Name, "appears more than once; send each field once");
            }
        }

        var id = Alias(task, prefix, errors, "id", "task_id") is { } idElement ? String(idElement, prefix + "id", errors) : NewId();
        if (id is "." or "..")
        {
            // Letters, digits and dots allow them, but a URL cannot hold them as a path segment
            // (clients resolve /api/tasks/.. to /api), so such a task could never be read, cancelled
            // or retried. Found by the property tests of issue 12.
            Add(errors, prefix + "id", "may not be \".\" or \"..\", which a URL cannot address");
        }

        var typeElement = Alias(task, prefix, errors, "type", "task_type", "name");
        string type = "";
        if (typeElement is null)
        {
            Add(errors, prefix + "type", "is required (also accepted as task_type or name)");
        }
        else
        {
            type = String(typeElement.Value, prefix + "type", errors) ?? "";
        }

        var durationMs = Integer(task, "duration_ms", prefix, errors) ?? 0;
        var priority = Integer(task, "priority", prefix, errors) ?? TaskSpec.DefaultPriority;
        var maxAttempts = Integer(task, "max_attempts", prefix, errors) ?? defaultMaxAttempts;
        var dependencies = Dependencies(task, prefix, errors);
        var runAt = Time(task, "run_at", prefix, errors);
        var timeoutMs = Timeout(task, prefix, errors);
        var backoffMs = Integer(task, "retry_backoff_ms", prefix, errors);
        var backoffMaxMs = Integer(task, "retry_backoff_max_ms", prefix, errors);
        JsonElement? payload = task.TryGetProperty("payload", out var p) && p.ValueKind != JsonValueKind.Null ? p.Clone() : null;

        return new TaskSpec(
            id ?? "",
            type,
            durationMs,
            dependencies,
            payload,
            (int)Math.Clamp(priority, int.MinValue, int.MaxValue),
            runAt,
            timeoutMs,
            (int)Math.Clamp(maxAttempts, int.MinValue, int.MaxValue))
        {
            RetryBackoffMs = backoffMs,
            RetryBackoffMaxMs = backoffMaxMs,
        };
    }

    public static void Add(IDictionary<string, List<string>> errors, string field, string reason)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (!errors.TryGetValue(field, out var list))
        {
            errors[field] = list = [];
        }

        list.Add(reason);
    }

    private static string NewId() => "task-" + Guid.CreateVersion7().ToString("N");

    /// <summary>The one of several names that is present; two that disagree are an error.</summary>
    private static JsonElement? Alias(JsonElement task, string prefix, IDictionary<string, List<string>> errors, params string[] names)
    {
        JsonElement? found = null;
        string? foundName = null;
        foreach (var name in names)
        {
            if (task.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                if (found is { } earlier && earlier.GetRawText() != value.GetRawText())
                {
                    Add(errors, prefix + name, $"disagrees with {foundName}; send one of them");
                }

                found ??= value;
                foundName ??= name;
            }
        }

        return found;
    }

    private static string? String(JsonElement value, string field, IDictionary<string, List<string>> errors)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            Add(errors, field, $"must be a string, not {Describe(value)}");
            return null;
        }

        return value.GetString();
    }

    private static long? Integer(JsonElement task, string name, string prefix, IDictionary<string, List<string>> errors)
    {
        if (!task.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number))
        {
            return number;
        }

        Add(errors, prefix + name, $"must be a whole number, not {Describe(value)}");
        return null;
    }

    private static List<string> Dependencies(JsonElement task, string prefix, IDictionary<string, List<string>> errors)
    {
        if (!task.TryGetProperty("dependencies", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            Add(errors, prefix + "dependencies", $"must be an array of task ids, not {Describe(value)}");
            return [];
        }

        var dependencies = new List<string>(value.GetArrayLength());
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                dependencies.Add(item.GetString()!);
            }
            else
            {
                Add(errors, $"{prefix}dependencies[{i}]", $"must be a task id string, not {Describe(item)}");
            }

            i++;
        }

        return dependencies;
    }

    /// <summary>RFC 3339 and nothing looser (<see cref="Rfc3339"/>); a time without an offset (seed 003
    /// sends "2026-01-09T10:00:00") is UTC.</summary>
    private static DateTimeOffset? Time(JsonElement task, string name, string prefix, IDictionary<string, List<string>> errors)
    {
        if (!task.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String && Rfc3339.TryParse(value.GetString(), out var time))
        {
            return time;
        }

        Add(errors, prefix + name, $"must be an RFC 3339 time such as \"{Rfc3339.Example}\" or \"2026-01-09T12:00:00.5+02:00\" (no offset means UTC)"
            + (value.ValueKind == JsonValueKind.String ? "" : $", not {Describe(value)}"));
        return null;
    }

    private static long? Timeout(JsonElement task, string prefix, IDictionary<string, List<string>> errors)
    {
        var ms = Integer(task, "timeout_ms", prefix, errors);
        if (!task.TryGetProperty("timeout", out var seconds) || seconds.ValueKind == JsonValueKind.Null)
        {
            return ms;
        }

        if (seconds.ValueKind != JsonValueKind.Number || !seconds.TryGetDouble(out var value) || value <= 0 || value > TaskSpec.MaxTimeoutMs / 1000.0)
        {
            Add(errors, prefix + "timeout", $"must be a positive number of seconds up to {TaskSpec.MaxTimeoutMs / 1000:N0}");
            return ms;
        }

        var fromSeconds = (long)Math.Ceiling(value * 1000);
        if (ms is { } given && given != fromSeconds)
        {
            Add(errors, prefix + "timeout", "disagrees with timeout_ms; send one of them");
        }

        return ms ?? fromSeconds;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}
