using Microsoft.AspNetCore.Diagnostics;

namespace OrleansScheduler.WebApi;

/// <summary>Maps the grains' errors to problem+json: a validation error is a 400 naming the field, a
/// conflict a 409, a request Kestrel refused (too large, cut short) its own 4xx.</summary>
internal sealed class ApiExceptionHandler : IExceptionHandler
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
            _ => null,
        };

        if (result is null)
        {
            return false;
        }

        await result.ExecuteAsync(httpContext);
        return true;
    }
}
