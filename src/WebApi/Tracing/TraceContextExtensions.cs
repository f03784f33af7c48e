using System.Diagnostics;
using Orleans.Runtime;
using OrleansScheduler.Grains.Telemetry;

namespace OrleansScheduler.WebApi.Tracing;

public static class TraceContextExtensions
{
    /// <summary>The request's trace id as the logs carry it (32 hex digits), for problem details
    /// and messages: ASP.NET Core's default puts the whole W3C activity id there, which no log
    /// line contains.</summary>
    public static string TraceIdOf(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity ? activity.TraceId.ToHexString() : context.TraceIdentifier;
    }

    /// <summary><c>X-Correlation-Id</c> as a trace id (see <see cref="CorrelationIdPropagator"/>).</summary>
    public static IServiceCollection AddSchedulerTraceContext(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddSingleton<DistributedContextPropagator>(new CorrelationIdPropagator(DistributedContextPropagator.CreateDefaultPropagator()));
    }

    /// <summary>Each request's trace id goes out in <c>X-Trace-Id</c> (and its <c>X-Correlation-Id</c>,
    /// when it sent one, comes back as sent), and into Orleans' request context, so every grain
    /// call the request makes, and every log line written in those calls on any silo, carries it
    /// even when no tracer listens (Orleans creates and propagates activities only for a listener).</summary>
    public static IApplicationBuilder UseSchedulerTraceContext(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(static (context, next) =>
        {
            if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity)
            {
                RequestContext.Set(TaskTracing.RequestContextKey, activity.Id!);
                var headers = context.Response.Headers;
                headers[CorrelationIds.TraceIdHeaderName] = activity.TraceId.ToHexString();
                var correlationId = context.Request.Headers[CorrelationIds.HeaderName].ToString();
                if (CorrelationIds.IsUsable(correlationId))
                {
                    headers[CorrelationIds.HeaderName] = correlationId;
                }
            }

            return next(context);
        });
    }
}
