namespace OrleansScheduler.Grains.Storage;

/// <summary>How a submission is refused, the same whichever engine found the problem.</summary>
internal static class SubmissionErrors
{
    /// <summary>409: ids that already exist (up to 20 named).</summary>
    public static TaskConflictException Conflict(IReadOnlyList<string> existing) =>
        new(existing[0],
            existing.Count == 1
                ? $"A task with id '{existing[0]}' already exists."
                : $"Tasks with these ids already exist: {string.Join(", ", existing.Take(20))}.");

    /// <summary>400: dependencies that are neither stored nor in the batch, named in order.</summary>
    public static TaskValidationException MissingDependencies(List<string> missing, bool single)
    {
        missing.Sort(StringComparer.Ordinal);
        return new TaskValidationException(
            single ? "dependencies" : "tasks",
            $"unknown dependencies: {string.Join(", ", missing)}; a dependency must exist or be in the same batch",
            missing,
            "missing_dependency");
    }
}
