namespace OrleansScheduler.WebApi;

/// <summary>The problem+json answers of the API. Every one names the field and the reason.</summary>
public static class ApiProblems
{
    public static IResult Invalid(string field, string reason) =>
        Validation(new Dictionary<string, string[]> { [field] = [reason] });

    public static IResult Validation(IDictionary<string, string[]> errors, string? detail = null, IDictionary<string, object?>? extensions = null) =>
        TypedResults.ValidationProblem(
            errors,
            detail: detail ?? string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(", ", e.Value)}")),
            title: "The request is not valid.",
            extensions: extensions);

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
