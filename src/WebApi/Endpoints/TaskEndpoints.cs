using Orleans;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Telemetry;
using OrleansScheduler.WebApi.OpenApi;
using OrleansScheduler.WebApi.Requests;

namespace OrleansScheduler.WebApi.Endpoints;

/// <summary>The task API, at /api/tasks and at the seeds' /tasks.</summary>
public static class TaskEndpoints
{
    public static IEndpointRouteBuilder MapTaskEndpoints(this IEndpointRouteBuilder app)
    {
        Map(app.MapGroup("/api/tasks").WithTags("Tasks"));
        Map(app.MapGroup("/tasks").WithTags("Tasks (seed paths)"));
        return app;
    }

    private static void Map(RouteGroupBuilder group)
    {
        group.MapPost("/", Submit)
            .DocumentsBody<TaskSubmission>()
            .Produces<SubmittedTask>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        group.MapPost("/batch", SubmitBatch)
            .DocumentsBody<TaskSubmission[]>()
            .Produces<SubmittedTask[]>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", List).Produces<TaskSummary[]>().ProducesValidationProblem();
        group.MapGet("/{id}", Get).AddEndpointFilter(NoTaskHasImpossibleIds).Produces<TaskView>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id}/events", Events).AddEndpointFilter(NoTaskHasImpossibleIds).Produces<TaskEvent[]>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/cancel", Cancel)
            .AddEndpointFilter(NoTaskHasImpossibleIds)
            .Produces<SubmittedTask>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id}/retry", Retry)
            .AddEndpointFilter(NoTaskHasImpossibleIds)
            .Produces<SubmittedTask>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task<IResult> Submit(HttpContext context, IGrainFactory grains, IOptions<ApiOptions> options, CancellationToken cancellationToken)
    {
        var (document, problem) = await JsonBody.ReadAsync(context.Request, options.Value.MaxTaskBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        using (document)
        {
            var errors = new Dictionary<string, List<string>>();
            var spec = TaskRequestParser.Parse(document!.RootElement, "", options.Value.DefaultMaxAttempts, errors);
            if (spec is not null && errors.Count == 0)
            {
                TaskSpecValidator.Validate(spec, "", errors);
            }

            if (spec is null || errors.Count > 0)
            {
                return ApiProblems.Validation(errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
            }

            var submitted = await grains.GetTaskGrain(spec.Id).SubmitAsync(spec with { TraceParent = TaskTracing.CurrentTraceParent() });
            return TypedResults.Created(TaskLocation(context, submitted.Id), submitted);
        }
    }

    private static async Task<IResult> SubmitBatch(HttpContext context, IGrainFactory grains, IOptions<ApiOptions> options, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var (document, problem) = await JsonBody.ReadAsync(context.Request, settings.MaxBatchBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        using (document)
        {
            // Either a bare array or {"tasks": [...]}.
            var root = document!.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var wrapperErrors = UnknownWrapperFields(root);
                if (root.TryGetProperty("tasks", out var tasks))
                {
                    root = tasks;
                }
                else
                {
                    wrapperErrors["tasks"] = ["is required: a batch is a JSON array of task objects or {\"tasks\": [...]} (a single task goes to POST /api/tasks)"];
                }

                if (wrapperErrors.Count > 0)
                {
                    return ApiProblems.Validation(wrapperErrors);
                }
            }

            if (root.ValueKind != JsonValueKind.Array)
            {
                return ApiProblems.Invalid("tasks", "must be an array of task objects (or an object with a \"tasks\" array)");
            }

            var count = root.GetArrayLength();
            if (count == 0)
            {
                return ApiProblems.Invalid("tasks", $"must hold from 1 to {settings.MaxBatchTasks:N0} tasks, not 0");
            }

            if (count > settings.MaxBatchTasks)
            {
                // 413 like a body over its limit: the request is well formed, only too big, and the
                // answer says how many tasks fit, so a client can split the batch and send it again.
                return ApiProblems.TooManyTasks(count, settings.MaxBatchTasks);
            }

            var errors = new Dictionary<string, List<string>>();
            var specs = new List<TaskSpec>(count);
            var traceParent = TaskTracing.CurrentTraceParent();
            var i = 0;
            foreach (var element in root.EnumerateArray())
            {
                if (TaskRequestParser.Parse(element, $"tasks[{i}].", settings.DefaultMaxAttempts, errors) is { } spec)
                {
                    specs.Add(spec with { TraceParent = traceParent });
                }

                i++;
                if (errors.Count >= ApiProblems.MaxErrors)
                {
                    break; // Enough to act on; a 100,000-task batch should not answer with a million lines.
                }
            }

            if (errors.Count > 0)
            {
                return ApiProblems.Validation(errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
            }

            var submitted = await grains.GetCatalogGrain().SubmitBatchAsync(specs);
            return TypedResults.Created((string?)null, submitted);
        }
    }

    /// <summary>An id no submission can make (blank, too long, a character ids may not hold) names no
    /// task: 404 at once, without asking the store, whose keys need not accept it. Found by the
    /// property tests of issue 12 against the Orleans core, where GET /api/tasks/%20 reached
    /// GetGrain with a blank key and was a 500.</summary>
    private static ValueTask<object?> NoTaskHasImpossibleIds(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.GetRouteValue("id") is string id && !TaskSpecValidator.IsValidId(id, out _)
            ? ValueTask.FromResult<object?>(ApiProblems.NotFound(id))
            : next(context);

    /// <summary>The wrapper {"tasks": [...]} has no other field: one is a 400, as an unknown field
    /// inside a task is (issue 12), rather than silently ignored.</summary>
    private static Dictionary<string, string[]> UnknownWrapperFields(JsonElement wrapper)
    {
        var errors = new Dictionary<string, string[]>();
        var seenTasks = false;
        foreach (var property in wrapper.EnumerateObject())
        {
            if (JsonText.UnreadableName(property) is { } reason)
            {
                errors["body"] = ["has a field name that is " + reason];
            }
            else if (property.Name != "tasks")
            {
                errors[property.Name] = ["is not a known field; a batch is a JSON array of tasks or {\"tasks\": [...]} with no other field"];
            }
            else if (seenTasks)
            {
                errors["tasks"] = ["appears more than once; send one array of tasks"];
            }
            else
            {
                seenTasks = true;
            }
        }

        return errors;
    }

    private static async Task<IResult> Get(string id, IGrainFactory grains, CancellationToken cancellationToken) =>
        await grains.GetTaskGrain(id).GetAsync() is { } task
            ? TypedResults.Ok(task)
            : ApiProblems.NotFound(id);

    private static async Task<IResult> Events(string id, IGrainFactory grains, CancellationToken cancellationToken) =>
        await grains.GetTaskGrain(id).GetEventsAsync() is { } events
            ? TypedResults.Ok(events)
            : ApiProblems.NotFound(id);

    private static async Task<IResult> Cancel(string id, IGrainFactory grains, CancellationToken cancellationToken) =>
        await grains.GetTaskGrain(id).CancelAsync() is { } status
            ? TypedResults.Ok(new SubmittedTask(id, status))
            : ApiProblems.NotFound(id);

    private static async Task<IResult> Retry(string id, IGrainFactory grains, CancellationToken cancellationToken) =>
        await grains.GetTaskGrain(id).RetryAsync() is { } status
            ? TypedResults.Ok(new SubmittedTask(id, status))
            : ApiProblems.NotFound(id);

    private static async Task<IResult> List(
        HttpContext context,
        IGrainFactory grains,
        string? status,
        string? type,
        string? limit,
        string? cursor,
        string? offset,
        string? order,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var newestFirst = false;
        if (order is not null)
        {
            if (string.Equals(order, "newest", StringComparison.OrdinalIgnoreCase))
            {
                newestFirst = true;
            }
            else if (!string.Equals(order, "oldest", StringComparison.OrdinalIgnoreCase))
            {
                errors["order"] = ["must be 'oldest' (submission order, the default) or 'newest'"];
            }
        }

        var statusFilter = status is null ? [] : ParseStatuses(status, errors);

        var pageSize = ParseInt(limit, "limit", 1, TaskQuery.MaxLimit, TaskQuery.DefaultLimit, errors);
        var skip = ParseInt(offset, "offset", 0, 1_000_000, 0, errors);
        long? after = null;
        if (cursor is not null)
        {
            if (long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var position) && position > 0)
            {
                after = position;
            }
            else
            {
                errors["cursor"] = ["is not a cursor from a previous page's Link header"];
            }
        }

        if (type is { Length: 0 or > TaskSpecValidator.MaxTypeLength })
        {
            errors["type"] = [$"must be 1 to {TaskSpecValidator.MaxTypeLength} characters"];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var query = new TaskQuery(null, type, pageSize, after, skip) { AnyStatus = statusFilter.Count > 0 ? statusFilter : null, NewestFirst = newestFirst };
        var page = await grains.GetCatalogGrain().ListAsync(query);
        if (page.NextCursor is { } next)
        {
            var link = new List<string>();
            if (status is not null)
            {
                link.Add("status=" + Uri.EscapeDataString(status));
            }

            if (type is not null)
            {
                link.Add("type=" + Uri.EscapeDataString(type));
            }

            if (newestFirst)
            {
                link.Add("order=newest");
            }

            link.Add($"limit={pageSize}");
            link.Add($"cursor={next}");
            context.Response.Headers.Link = $"<{context.Request.PathBase}{context.Request.Path}?{string.Join('&', link)}>; rel=\"next\"";
        }

        return TypedResults.Ok(page.Items);
    }

    /// <summary>One status, several separated by commas, or seed 004's "pending" (not started:
    /// WAITING, SCHEDULED or QUEUED); case does not matter.</summary>
    private static List<TaskStatus> ParseStatuses(string text, Dictionary<string, string[]> errors)
    {
        var statuses = new List<TaskStatus>();
        foreach (var name in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (string.Equals(name, "pending", StringComparison.OrdinalIgnoreCase))
            {
                statuses.AddRange([TaskStatus.Waiting, TaskStatus.Scheduled, TaskStatus.Queued]);
            }
            else if (TaskStatusNames.TryParse(name, out var parsed))
            {
                statuses.Add(parsed);
            }
            else
            {
                errors["status"] = [$"'{name}' is not a status; use one of {string.Join(", ", TaskStatusNames.All)} (or pending), comma-separated"];
            }
        }

        if (statuses.Count == 0 && !errors.ContainsKey("status"))
        {
            errors["status"] = ["must name a status"];
        }

        return statuses.Distinct().ToList();
    }

    private static int ParseInt(string? text, string field, int min, int max, int fallback, Dictionary<string, string[]> errors)
    {
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors[field] = [$"must be a whole number from {min} to {max}"];
        return fallback;
    }

    private static string TaskLocation(HttpContext context, string id)
    {
        var path = context.Request.Path.Value!.TrimEnd('/');
        return $"{context.Request.PathBase}{path}/{Uri.EscapeDataString(id)}";
    }
}
