using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using OrleansScheduler.WebApi.Tracing;

namespace OrleansScheduler.WebApi;

/// <summary>Maps the grains' errors to problem+json: a validation error is a 400 naming the field, a
/// conflict a 409, a request Kestrel refused (too large, cut short) its own 4xx, and a store that
/// cannot be reached (PostgreSQL down or restarting, SQLite busy) a 503 with Retry-After. Anything
/// else is a fault of the server, not of the request: a 500 whose problem and log entry carry the
/// request's trace id, so the one can be found from the other (issue 12).</summary>
internal sealed partial class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var result = exception switch
        {
            TaskValidationException validation => ApiProblems.FromValidation(validation),
            TaskConflictException conflict => ApiProblems.Conflict(conflict),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => ApiProblems.TooLarge(
                httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0),
            BadHttpRequestException bad => TypedResults.Problem(detail: bad.Message, statusCode: bad.StatusCode, title: "Bad request."),
            _ when IsStoreUnavailable(exception) => ApiProblems.StoreUnavailable(),
            _ => null,
        };

        if (result is null)
        {
            var traceId = TraceContextExtensions.TraceIdOf(httpContext);
            LogServerFault(logger, exception, httpContext.Request.Method, httpContext.Request.Path, traceId);
            result = TypedResults.Problem(
                detail: $"The server failed on this request, not the request itself; the fault is logged with trace id {traceId}.",
                statusCode: StatusCodes.Status500InternalServerError,
                title: "Internal server error.");
        }

        if (IsStoreUnavailable(exception))
        {
            httpContext.Response.Headers.RetryAfter = "1";
        }

        await result.ExecuteAsync(httpContext);
        return true;
    }

    /// <summary>The scheduler is out of reach for now rather than the request wrong: the silos say
    /// the database is (StoreUnavailableException, from a silo in this process or another), a PostgreSQL
    /// connection refused, broken or shut down by the server (Npgsql calls these transient), a SQLite
    /// file locked past its busy timeout, or the silos unreachable (a front end whose silos are down,
    /// a grain call that timed out while a silo died).</summary>
    private static bool IsStoreUnavailable(Exception exception) => exception switch
    {
        StoreUnavailableException => true,
        Npgsql.NpgsqlException { IsTransient: true } => true,
        Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked } => true,
        Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException
            or Orleans.Runtime.Messaging.ConnectionFailedException or Orleans.Runtime.GatewayTooBusyException or TimeoutException => true,
        _ => exception.InnerException is { } inner && IsStoreUnavailable(inner),
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed on the server (trace id {TraceId})")]
    private static partial void LogServerFault(ILogger logger, Exception exception, string method, PathString path, string traceId);

    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
}
