using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace OrleansScheduler.WebApi.Security;

/// <summary>Rate limit on submissions with ASP.NET Core's rate limiter: a token bucket of N per
/// second (N in a burst) per key, or per client address without keys. A submission is one request
/// to POST /api/tasks, /api/tasks/batch, /tasks, /tasks/batch or /jobs, so a batch counts once.
/// Everything else is not limited. Past it: 429 problem+json with Retry-After, and nothing is read
/// or stored (the limiter runs before the endpoint).</summary>
public sealed class SubmitRateLimit : IConfigureOptions<RateLimiterOptions>
{
    private static readonly string[] SubmitPaths = ["/api/tasks", "/api/tasks/batch", "/tasks", "/tasks/batch", "/jobs"];

    public SubmitRateLimit(IOptions<ApiKeyOptions> options, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        var configured = options.Value.SubmitsPerSecond;
        if (configured < 0)
        {
            throw new InvalidOperationException($"RATE_LIMIT_SUBMITS_PER_SECOND (Api:SubmitsPerSecond) must be 0 (off) or a positive number of submissions per second, not {configured}.");
        }

        PerSecond = configured ?? (ListenAddresses.From(configuration).LoopbackOnly ? 0 : ApiKeyOptions.DefaultSubmitsPerSecond);
    }

    /// <summary>Submissions per second per key or client address; 0 is off.</summary>
    public int PerSecond { get; }

    public void Configure(RateLimiterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (PerSecond == 0)
        {
            return;
        }

        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = PerSecond,
            TokensPerPeriod = PerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            IsSubmission(context.Request)
                ? RateLimitPartition.GetTokenBucketLimiter(Partition(context), _ => bucket)
                : RateLimitPartition.GetNoLimiter(""));
        options.OnRejected = (rejected, _) => RejectAsync(rejected.HttpContext, rejected.Lease);
    }

    public static bool IsSubmission(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!HttpMethods.IsPost(request.Method))
        {
            return false;
        }

        var path = request.Path.Value ?? "";
        if (path.Length > 1 && path.EndsWith('/'))
        {
            path = path[..^1];
        }

        return SubmitPaths.Any(p => string.Equals(p, path, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The key's name once authenticated (set by the ApiKey scheme; never the key itself),
    /// else the client's address (behind a proxy, see ASPNETCORE_FORWARDEDHEADERS_ENABLED).</summary>
    private static string Partition(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true, Name: { } name } ? "key:" + name : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    private async ValueTask RejectAsync(HttpContext context, RateLimitLease lease)
    {
        var seconds = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await TypedResults.Problem(
            detail: $"At most {PerSecond} submissions per second are accepted from one API key (or client address without keys); a batch counts as one. Nothing of this request was stored; retry after {seconds} s.",
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too many submissions.",
            extensions: new Dictionary<string, object?> { ["limit_per_second"] = PerSecond, ["retry_after_seconds"] = seconds }).ExecuteAsync(context);
    }
}
