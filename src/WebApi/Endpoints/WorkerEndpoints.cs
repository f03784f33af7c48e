using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Workers;
using OrleansScheduler.WebApi.OpenApi;
using OrleansScheduler.WebApi.Requests;

namespace OrleansScheduler.WebApi.Endpoints;

/// <summary>External workers over HTTP (issue 11, seed 004; docs/workers.md): register, heartbeat,
/// long-poll for tasks by capability, report results, deregister; and the list of every worker,
/// silos and external workers alike.</summary>
public static class WorkerEndpoints
{
    /// <summary>Largest body of a worker's request other than a report (a heartbeat listing
    /// <see cref="WorkerRequests.MaxCurrentTasks"/> task ids fits).</summary>
    private const long MaxWorkerBodyBytes = 256 * 1024;

    public static IEndpointRouteBuilder MapWorkerEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/workers").WithTags("Workers");
        group.MapGet("/", List).Produces<WorkerListing[]>();
        group.MapPost("/register", Register)
            .DocumentsBody<WorkerRegistrationRequest>()
            .Produces<RegisteredWorkerListing>(StatusCodes.Status201Created)
            .ProducesValidationProblem();
        var worker = group.MapGroup("/{workerId}").AddEndpointFilter(NoWorkerHasImpossibleIds);
        worker.MapGet("/", Get).Produces<WorkerListing>().ProducesProblem(StatusCodes.Status404NotFound);
        worker.MapPost("/heartbeat", Heartbeat)
            .DocumentsBody<HeartbeatRequest>()
            .Produces<HeartbeatResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        worker.MapPost("/lease", Lease)
            .DocumentsBody<LeaseRequest>()
            .Produces<LeaseResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        worker.MapPost("/tasks/{taskId}/complete", (string workerId, string taskId, HttpContext context, IGrainFactory grains, IOptions<ApiOptions> options, CancellationToken cancellationToken) =>
                ReportAsync(workerId, taskId, succeeded: true, context, grains, options, cancellationToken))
            .DocumentsBody<CompleteRequest>()
            .Produces<SubmittedTask>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        worker.MapPost("/tasks/{taskId}/fail", (string workerId, string taskId, HttpContext context, IGrainFactory grains, IOptions<ApiOptions> options, CancellationToken cancellationToken) =>
                ReportAsync(workerId, taskId, succeeded: false, context, grains, options, cancellationToken))
            .DocumentsBody<FailRequest>()
            .Produces<SubmittedTask>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        worker.MapPost("/deregister", Deregister).Produces<DeregisteredWorker>().ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> List(IGrainFactory grains)
    {
        var silos = await grains.GetCatalogGrain().GetSilosAsync();
        var workers = await grains.GetGrain<IWorkerDirectoryGrain>(0).GetWorkersAsync();
        return TypedResults.Ok(silos.Select(WorkerListing.Of).Concat(workers.Select(WorkerListing.Of)).ToList());
    }

    private static async Task<IResult> Get(string workerId, IGrainFactory grains)
    {
        if (await grains.GetGrain<IWorkerGrain>(workerId).GetAsync() is { } worker)
        {
            return TypedResults.Ok(WorkerListing.Of(worker));
        }

        var silo = (await grains.GetCatalogGrain().GetSilosAsync()).FirstOrDefault(s => s.Id == workerId);
        return silo is null ? UnknownWorker(workerId) : TypedResults.Ok(WorkerListing.Of(silo));
    }

    private static Task<IResult> Register(HttpContext context, IGrainFactory grains, IOptions<WorkerOptions> settings, CancellationToken cancellationToken) =>
        WithBodyAsync<WorkerRegistration>(context, MaxWorkerBodyBytes, optional: false, WorkerRequests.Register, async registration =>
        {
            var worker = await grains.GetGrain<IWorkerGrain>(registration.WorkerId).RegisterAsync(registration);
            return TypedResults.Created($"/api/workers/{Uri.EscapeDataString(worker.Id)}", new RegisteredWorkerListing(worker, settings.Value));
        }, cancellationToken);

    private static Task<IResult> Heartbeat(string workerId, HttpContext context, IGrainFactory grains, IOptions<WorkerOptions> settings, CancellationToken cancellationToken) =>
        WithBodyAsync<WorkerHeartbeat>(context, MaxWorkerBodyBytes, optional: false, WorkerRequests.Heartbeat, async heartbeat =>
        {
            var answer = await grains.GetGrain<IWorkerGrain>(workerId).HeartbeatAsync(heartbeat);
            return answer is null
                ? UnknownWorker(workerId)
                : TypedResults.Ok(new HeartbeatResponse(workerId, answer.Status, answer.Stop.Select(s => new StopResponse(s.TaskId, s.Reason)).ToList(),
                    Ms(settings.Value.HeartbeatInterval), Ms(settings.Value.LeaseDuration)));
        }, cancellationToken);

    /// <summary>The body may be empty: one task, no wait.</summary>
    private static Task<IResult> Lease(string workerId, HttpContext context, IGrainFactory grains, CancellationToken cancellationToken) =>
        WithBodyAsync<WorkerRequests.LeaseAsk>(context, MaxWorkerBodyBytes, optional: true, WorkerRequests.Lease, async lease =>
        {
            var tasks = await grains.GetGrain<IWorkerGrain>(workerId).LeaseAsync(lease.MaxTasks, TimeSpan.FromMilliseconds(lease.WaitMs));
            return tasks is null
                ? UnknownWorker(workerId)
                : TypedResults.Ok(new LeaseResponse(tasks.Select(LeasedTask.Of).ToList()));
        }, cancellationToken);

    private static Task<IResult> ReportAsync(string workerId, string taskId, bool succeeded, HttpContext context, IGrainFactory grains, IOptions<ApiOptions> options, CancellationToken cancellationToken)
    {
        if (!TaskSpecValidator.IsValidId(taskId, out _))
        {
            return Task.FromResult(ApiProblems.NotFound(taskId));
        }

        return WithBodyAsync<WorkerRequests.Report>(context, options.Value.MaxTaskBodyBytes, optional: false,
            (JsonElement? body, Dictionary<string, List<string>> errors, out WorkerRequests.Report report) => WorkerRequests.TryReport(body, succeeded, errors, out report),
            async report =>
            {
                var result = await grains.GetGrain<IWorkerGrain>(workerId).ReportAsync(taskId, report.LeaseToken, report.Outcome);
                return result.Outcome switch
                {
                    WorkerReportStatus.Accepted => TypedResults.Ok(new SubmittedTask(taskId, result.Status!.Value)),
                    WorkerReportStatus.UnknownWorker => UnknownWorker(workerId),
                    WorkerReportStatus.UnknownTask => ApiProblems.NotFound(taskId),
                    _ => TypedResults.Problem(
                        detail: $"The report changed nothing: {result.Reason}. Drop the task; its result is not recorded.",
                        statusCode: StatusCodes.Status409Conflict,
                        title: "The lease is no longer live.",
                        extensions: new Dictionary<string, object?>
                        {
                            ["id"] = taskId,
                            ["lease_token"] = report.LeaseToken.ToString(CultureInfo.InvariantCulture),
                            ["task_status"] = result.Status?.ToName(),
                        }),
                };
            }, cancellationToken);
    }

    /// <summary>Reads a worker request's body (415, 413 or 400 as problem+json), parses it with
    /// <paramref name="parse"/> (400 naming the fields) and hands the request to <paramref name="act"/>.</summary>
    private static async Task<IResult> WithBodyAsync<T>(
        HttpContext context, long maxBytes, bool optional, WorkerRequests.Parser<T> parse, Func<T, Task<IResult>> act, CancellationToken cancellationToken)
    {
        JsonDocument? document = null;
        if (!optional || context.Request.ContentLength is not 0)
        {
            IResult? problem;
            (document, problem) = await JsonBody.ReadAsync(context.Request, maxBytes, cancellationToken);
            if (problem is not null)
            {
                return problem;
            }
        }

        using (document)
        {
            var errors = new Dictionary<string, List<string>>();
            return parse(document?.RootElement, errors, out var request)
                ? await act(request)
                : ApiProblems.Validation(errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        }
    }

    private static async Task<IResult> Deregister(string workerId, IGrainFactory grains)
    {
        var handedBack = await grains.GetGrain<IWorkerGrain>(workerId).DeregisterAsync();
        return handedBack is null ? UnknownWorker(workerId) : TypedResults.Ok(new DeregisteredWorker(workerId, handedBack));
    }

    private static ValueTask<object?> NoWorkerHasImpossibleIds(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.GetRouteValue("workerId") is string id && !TaskSpecValidator.IsValidId(id, out _)
            ? ValueTask.FromResult<object?>(UnknownWorker(id))
            : next(context);

    private static IResult UnknownWorker(string workerId) =>
        TypedResults.Problem(
            detail: $"No worker is registered with the id '{workerId}'; register it with POST /api/workers/register.",
            statusCode: StatusCodes.Status404NotFound,
            title: "Worker not found.",
            extensions: new Dictionary<string, object?> { ["worker_id"] = workerId });

    private static long Ms(TimeSpan span) => (long)span.TotalMilliseconds;

    internal static JsonElement? Json(string? text)
    {
        if (text is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}

/// <summary>A worker in GET /api/workers: an external worker (kind "external") or a silo (kind
/// "silo", whose capabilities are "*": its handlers' types, and the simulator's fallback).</summary>
public record WorkerListing(
    string Id,
    string Kind,
    string? Host,
    IReadOnlyList<string> Capabilities,
    int Capacity,
    int RunningTasks,
    IReadOnlyList<string> CurrentTasks,
    DateTimeOffset StartedAt,
    DateTimeOffset HeartbeatAt,
    string Status,
    string? ReportedStatus,
    JsonElement? SystemInfo)
{
    public static WorkerListing Of(WorkerView worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return new(worker.Id, worker.Kind, worker.Host, worker.Capabilities, worker.Capacity, worker.RunningTasks, worker.CurrentTasks,
            worker.StartedAt, worker.HeartbeatAt, worker.Status, worker.ReportedStatus, WorkerEndpoints.Json(worker.SystemInfo));
    }

    public static WorkerListing Of(SiloView silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return new(silo.Id, WorkerView.Silo, silo.Host, ["*"], silo.Capacity, silo.RunningTasks, [], silo.StartedAt, silo.HeartbeatAt, silo.Status, null, null);
    }
}

/// <summary>The answer to a registration: the worker, and the intervals it must keep.</summary>
public sealed record RegisteredWorkerListing : WorkerListing
{
    public RegisteredWorkerListing(WorkerView worker, WorkerOptions settings)
        : base(Of(worker))
    {
        ArgumentNullException.ThrowIfNull(settings);
        (WorkerId, MaxConcurrentTasks) = (worker.Id, worker.Capacity);
        HeartbeatIntervalMs = (long)settings.HeartbeatInterval.TotalMilliseconds;
        LeaseDurationMs = (long)settings.LeaseDuration.TotalMilliseconds;
        DeadAfterMs = (long)settings.DeadAfter.TotalMilliseconds;
    }

    [JsonPropertyOrder(1)]
    public string WorkerId { get; }

    [JsonPropertyOrder(1)]
    public int MaxConcurrentTasks { get; }

    [JsonPropertyOrder(1)]
    public long HeartbeatIntervalMs { get; }

    [JsonPropertyOrder(1)]
    public long LeaseDurationMs { get; }

    [JsonPropertyOrder(1)]
    public long DeadAfterMs { get; }
}

public sealed record HeartbeatResponse(string WorkerId, string Status, IReadOnlyList<StopResponse> Stop, long HeartbeatIntervalMs, long LeaseDurationMs);

public sealed record StopResponse(string TaskId, string Reason);

public sealed record LeaseResponse(IReadOnlyList<LeasedTask> Tasks);

/// <summary>A leased task. <see cref="LeaseToken"/> goes back with its report.</summary>
public sealed record LeasedTask(string Id, string Type, JsonElement? Payload, int Attempt, int MaxAttempts, long? TimeoutMs, string LeaseToken)
{
    public static LeasedTask Of(WorkerTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        return new(task.Id, task.Type, WorkerEndpoints.Json(task.Payload), task.Attempt, task.MaxAttempts, task.TimeoutMs,
            task.LeaseToken.ToString(CultureInfo.InvariantCulture));
    }
}

public sealed record DeregisteredWorker(string WorkerId, IReadOnlyList<string> HandedBack);

// The request bodies, for the OpenAPI document only: the endpoints read them with WorkerRequests.
public sealed record WorkerRegistrationRequest(string WorkerId, IReadOnlyList<string> Capabilities, int? MaxConcurrentTasks, JsonElement? SystemInfo);

public sealed record HeartbeatRequest(string? Status, IReadOnlyList<string>? CurrentTasks, JsonElement? SystemInfo);

public sealed record LeaseRequest(int? MaxTasks, int? WaitMs);

public sealed record CompleteRequest(string LeaseToken, JsonElement? Result);

public sealed record FailRequest(string LeaseToken, string? Error);
