namespace OrleansScheduler.Grains.Dag;

/// <summary>Checks the fields of one spec; the rules are the API contract (DESIGN.md section 5).</summary>
public static class TaskSpecValidator
{
    public const int MaxTypeLength = 200;

    /// <summary>Adds "prefix.field" errors for every bad field of <paramref name="spec"/>.</summary>
    public static void Validate(TaskSpec spec, string prefix, IDictionary<string, List<string>> errors)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(errors);

        if (!IsValidId(spec.Id, out var idReason))
        {
            Add(errors, prefix + "id", idReason);
        }

        if (string.IsNullOrWhiteSpace(spec.Type))
        {
            Add(errors, prefix + "type", "is required");
        }
        else if (spec.Type.Length > MaxTypeLength)
        {
            Add(errors, prefix + "type", $"must be at most {MaxTypeLength} characters");
        }

        if (spec.DurationMs is < 0 or > TaskSpec.MaxDurationMs)
        {
            Add(errors, prefix + "duration_ms", $"must be a whole number from 0 to {TaskSpec.MaxDurationMs:N0}");
        }

        if (spec.Priority is < TaskSpec.MinPriority or > TaskSpec.MaxPriority)
        {
            Add(errors, prefix + "priority", $"must be from {TaskSpec.MinPriority} to {TaskSpec.MaxPriority}");
        }

        if (spec.MaxAttempts is < 1 or > TaskSpec.MaxMaxAttempts)
        {
            Add(errors, prefix + "max_attempts", $"must be from 1 to {TaskSpec.MaxMaxAttempts}");
        }

        if (spec.TimeoutMs is { } timeout && (timeout < 1 || timeout > TaskSpec.MaxTimeoutMs))
        {
            Add(errors, prefix + "timeout_ms", $"must be from 1 to {TaskSpec.MaxTimeoutMs:N0} milliseconds");
        }

        if (spec.RetryBackoffMs is < 0 or > TaskSpec.MaxBackoffMs)
        {
            Add(errors, prefix + "retry_backoff_ms", $"must be from 0 to {TaskSpec.MaxBackoffMs:N0} milliseconds");
        }

        if (spec.RetryBackoffMaxMs is { } cap && (cap < 0 || cap > TaskSpec.MaxBackoffMs || cap < (spec.RetryBackoffMs ?? 0)))
        {
            Add(errors, prefix + "retry_backoff_max_ms", $"must be from retry_backoff_ms to {TaskSpec.MaxBackoffMs:N0} milliseconds");
        }

        for (var i = 0; i < spec.Dependencies.Count; i++)
        {
            var dependency = spec.Dependencies[i];
            if (!IsValidId(dependency, out var reason))
            {
                Add(errors, $"{prefix}dependencies[{i}]", reason);
            }
            else if (dependency == spec.Id)
            {
                Add(errors, $"{prefix}dependencies[{i}]", $"task '{spec.Id}' cannot depend on itself");
            }
        }
    }

    public static bool IsValidId(string? id, out string reason)
    {
        if (string.IsNullOrEmpty(id))
        {
            reason = "is required";
            return false;
        }

        if (id.Length > TaskSpec.MaxIdLength)
        {
            reason = $"must be at most {TaskSpec.MaxIdLength} characters";
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            {
                reason = "may contain only letters, digits, '-', '_', '.' and ':'";
                return false;
            }
        }

        reason = "";
        return true;
    }

    public static void ThrowIfAny(IDictionary<string, List<string>> errors)
    {
        if (errors.Count > 0)
        {
            throw new TaskValidationException(errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        }
    }

    private static void Add(IDictionary<string, List<string>> errors, string field, string reason)
    {
        if (!errors.TryGetValue(field, out var list))
        {
            errors[field] = list = [];
        }

        list.Add(reason);
    }
}
