using Orleans;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Telemetry;

namespace OrleansScheduler.WebApi.Endpoints;

/// <summary>Seed 002's job API: POST /jobs?task_type=..&amp;payload=.. makes a task of that type with
/// the payload as a JSON string.</summary>
public static class SeedCompatibilityEndpoints
{
    public static IEndpointRouteBuilder MapSeedCompatibilityEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/jobs", SubmitJob)
            .WithTags("Tasks (seed paths)")
            .Produces<SubmittedTask>(StatusCodes.Status201Created)
            .ProducesValidationProblem();
        return app;
    }

    private static async Task<IResult> SubmitJob(
        string? task_type,
        string? payload,
        IGrainFactory grains,
        IOptions<ApiOptions> options,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, List<string>>();
        if (string.IsNullOrWhiteSpace(task_type))
        {
            errors["task_type"] = ["is required (a query parameter: /jobs?task_type=test&payload=hello)"];
            return ApiProblems.Validation(errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        }

        var spec = new TaskSpec(
            "job-" + Guid.CreateVersion7().ToString("N"),
            task_type,
            0,
            [],
            payload is null ? null : JsonSerializer.SerializeToElement(payload),
            TaskSpec.DefaultPriority,
            null,
            null,
            options.Value.DefaultMaxAttempts)
        {
            TraceParent = TaskTracing.CurrentTraceParent(),
        };
        TaskSpecValidator.Validate(spec, "", errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors.ToDictionary(e => e.Key == "type" ? "task_type" : e.Key, e => e.Value.ToArray()));
        }

        var submitted = await grains.GetTaskGrain(spec.Id).SubmitAsync(spec);
        return TypedResults.Created($"/api/tasks/{submitted.Id}", submitted);
    }
}
