using System.Globalization;
using Orleans;
using OrleansScheduler.Grains.Dag;

namespace OrleansScheduler.WebApi.Endpoints;

/// <summary>What the dashboard draws (issue 10, point 7): GET /api/stats/history (throughput and
/// queue depth over the last minutes), GET /api/stats/run-times (the run-time histogram) and
/// GET /api/tasks/{id}/graph (a task's DAG neighbourhood with its critical path). Every read behind
/// them is bounded whatever the number of stored tasks (IHistoryGrain).</summary>
public static class HistoryEndpoints
{
    public const int DefaultMinutes = 15;
    public const int MaxMinutes = 60;
    public const int DefaultStepSeconds = 5;
    public const int MaxStepSeconds = 300;
    public const int DefaultDepth = 3;
    public const int MaxDepth = 10;
    public const int DefaultMaxNodes = 100;
    public const int MaxNodes = 500;

    public static IEndpointRouteBuilder MapHistoryEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/stats/history", History).WithTags("Monitoring").Produces<StatsHistory>().ProducesValidationProblem();
        app.MapGet("/api/stats/run-times", RunTimes).WithTags("Monitoring").Produces<RunTimeHistogram>();
        foreach (var prefix in new[] { "/api/tasks", "/tasks" })
        {
            app.MapGet(prefix + "/{id}/graph", Graph)
                .WithTags("Tasks")
                .Produces<TaskGraph>()
                .ProducesValidationProblem()
                .ProducesProblem(StatusCodes.Status404NotFound);
        }

        return app;
    }

    private static async Task<IResult> History(IGrainFactory grains, string? minutes, string? step)
    {
        var errors = new Dictionary<string, string[]>();
        var window = ParseInt(minutes, "minutes", 1, MaxMinutes, DefaultMinutes, errors);
        var stepSeconds = ParseInt(step, "step", 1, MaxStepSeconds, DefaultStepSeconds, errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        return TypedResults.Ok(await grains.GetHistoryGrain().GetHistoryAsync(window, stepSeconds));
    }

    private static async Task<IResult> RunTimes(IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetHistoryGrain().GetRunTimesAsync());

    private static async Task<IResult> Graph(IGrainFactory grains, string id, string? depth, string? max_nodes)
    {
        var errors = new Dictionary<string, string[]>();
        var levels = ParseInt(depth, "depth", 1, MaxDepth, DefaultDepth, errors);
        var cap = ParseInt(max_nodes, "max_nodes", 1, MaxNodes, DefaultMaxNodes, errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        // An id no submission can make names no task (as GET /api/tasks/{id} answers).
        if (!TaskSpecValidator.IsValidId(id, out _))
        {
            return ApiProblems.NotFound(id);
        }

        return await grains.GetHistoryGrain().GetGraphAsync(id, levels, cap) is { } graph
            ? TypedResults.Ok(graph)
            : ApiProblems.NotFound(id);
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

        errors[field] = [$"must be a whole number from {min} to {max}, not '{(text.Length > 20 ? text[..20] + "..." : text)}'"];
        return fallback;
    }
}
