namespace OrleansScheduler.WebApi;

/// <summary>The problem+json answers of the API. Every one names the field and the reason.</summary>
public static class ApiProblems
{
    public static IResult Invalid(string field, string reason) =>
        Validation(new Dictionary<string, string[]> { [field] = [reason] });

    /// <summary>Most fields one problem lists, and the longest field name it echoes: a request of
    /// 40,000 unknown fields was answered with 8 MB of problem (found by the property tests of
    /// issue 12). The first ones are enough to act on.</summary>
    public const int MaxErrors = 100;
    public const int MaxFieldNameLength = 200;
    private const int DetailErrors = 10;

    public static IResult Validation(IDictionary<string, string[]> errors, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var shown = new Dictionary<string, string[]>();
        foreach (var (field, reasons) in errors.Take(MaxErrors))
        {
            var name = field.Length <= MaxFieldNameLength ? field : $"{field[..MaxFieldNameLength]}...({field.Length:N0} characters)";
            shown[name] = shown.TryGetValue(name, out var earlier) ? [.. earlier, .. reasons] : reasons;
        }

        if (errors.Count > shown.Count)
        {
            extensions = new Dictionary<string, object?>(extensions ?? new Dictionary<string, object?>()) { ["errors_not_shown"] = errors.Count - shown.Count };
        }

        var listed = string.Join("; ", shown.Take(DetailErrors).Select(e => $"{e.Key} {string.Join(", ", e.Value)}"));
        return TypedResults.ValidationProblem(
            shown,
            detail: detail ?? (errors.Count > DetailErrors ? $"{listed}; and {errors.Count - DetailErrors:N0} more" : listed),
            title: "The request is not valid.",
            extensions: extensions);
    }

    public static IResult FromValidation(TaskValidationException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var extensions = new Dictionary<string, object?> { ["kind"] = exception.Kind };
        if (exception.Kind == "cycle")
        {
            extensions["cycle"] = exception.Ids;
        }
        else if (exception.Ids.Count > 0)
        {
            extensions["ids"] = exception.Ids;
        }

        return Validation(exception.Errors.ToDictionary(e => e.Key, e => e.Value), exception.Message, extensions);
    }

    public static IResult NotFound(string id) =>
        TypedResults.Problem(
            detail: $"No task has the id '{id}'.",
            statusCode: StatusCodes.Status404NotFound,
            title: "Task not found.",
            extensions: new Dictionary<string, object?> { ["id"] = id });

    public static IResult Conflict(TaskConflictException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return TypedResults.Problem(
            detail: exception.Message,
            statusCode: StatusCodes.Status409Conflict,
            title: "The request conflicts with the task's state.",
            extensions: new Dictionary<string, object?> { ["id"] = exception.TaskId });
    }

    public static IResult StoreUnavailable() =>
        TypedResults.Problem(
            detail: "The task database cannot be reached or is busy; nothing of this request was done. Try again shortly.",
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "The store is unavailable.");

    public static IResult TooLarge(long maxBytes) =>
        TypedResults.Problem(
            detail: $"The body is larger than this endpoint accepts ({maxBytes:N0} bytes).",
            statusCode: StatusCodes.Status413PayloadTooLarge,
            title: "The request body is too large.",
            extensions: new Dictionary<string, object?> { ["field"] = "body", ["max_bytes"] = maxBytes });

    public static IResult TooManyTasks(int count, int maxTasks) =>
        TypedResults.Problem(
            detail: $"tasks holds {count:N0} tasks; a batch may hold at most {maxTasks:N0}. Split it into batches of at most {maxTasks:N0} (dependencies may point at tasks of an earlier batch).",
            statusCode: StatusCodes.Status413PayloadTooLarge,
            title: "The batch has too many tasks.",
            extensions: new Dictionary<string, object?> { ["field"] = "tasks", ["max_tasks"] = maxTasks, ["count"] = count });

    public static IResult UnsupportedMediaType(string? contentType) =>
        TypedResults.Problem(
            detail: $"Content-Type must be application/json, not '{contentType ?? "(none)"}'.",
            statusCode: StatusCodes.Status415UnsupportedMediaType,
            title: "Unsupported media type.",
            extensions: new Dictionary<string, object?> { ["field"] = "Content-Type" });
}
