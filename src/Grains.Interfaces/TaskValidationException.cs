namespace OrleansScheduler;

/// <summary>A request the scheduler will not accept as it is (400). Carries the field and why.
/// Crosses grain calls, so Orleans serializes it.</summary>
[GenerateSerializer]
public sealed class TaskValidationException : Exception
{
    public TaskValidationException(string field, string reason, IReadOnlyList<string>? ids = null, string? kind = null)
        : base($"{field}: {reason}")
    {
        Errors = new Dictionary<string, string[]> { [field] = [reason] };
        Ids = ids ?? [];
        Kind = kind ?? "invalid";
    }

    public TaskValidationException(IReadOnlyDictionary<string, string[]> errors)
        : base(string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")))
    {
        ArgumentOutOfRangeException.ThrowIfZero(errors.Count, nameof(errors));
        Errors = errors;
        Ids = [];
        Kind = "invalid";
    }

    /// <summary>Field (JSON path) to reasons.</summary>
    [Id(0)]
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>The ids concerned: the missing dependencies, or a cycle as a path.</summary>
    [Id(1)]
    public IReadOnlyList<string> Ids { get; }

    /// <summary>"invalid", "missing_dependency", "cycle", "duplicate_id".</summary>
    [Id(2)]
    public string Kind { get; }
}
