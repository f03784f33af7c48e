using System.Diagnostics;

namespace OrleansScheduler.Grains.Telemetry;

/// <summary>The scheduler's spans (issue 10), on the ActivitySource <see cref="SourceName"/>: one per
/// attempt (in the executor) and one around the release of a completed task's dependents, each a
/// child of the trace that submitted the task, carried as the task's stored W3C traceparent
/// (<see cref="Tasks.TaskState.TraceParent"/>). Without a listener (no OTLP exporter) StartActivity
/// answers null and nothing is allocated.</summary>
public static class TaskTracing
{
    public const string SourceName = "OrleansScheduler";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The key of the W3C traceparent in Orleans' request context: the one Orleans' own
    /// activity propagation uses, set by the HTTP edge for each request and by a task's grain when
    /// it acts on its own (<c>TaskGrain.JoinTaskTrace</c>), so log lines carry the trace id even
    /// when no tracer listens.</summary>
    public const string RequestContextKey = "traceparent";

    /// <summary>The traceparent a submission stores: the current request's activity (ASP.NET Core
    /// starts one per request, from the caller's <c>traceparent</c> header when it sends one).</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity ? activity.Id : null;

    /// <summary>The trace id of a stored traceparent (null when absent or malformed), for log scopes.</summary>
    public static string? TraceIdOf(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, out var context) ? context.TraceId.ToHexString() : null;

    /// <summary>Starts a span under the task's submission trace (a root span when it has none).</summary>
    public static Activity? Start(string name, string? traceParent, string taskId, ActivityKind kind = ActivityKind.Internal)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        ActivityContext.TryParse(traceParent, null, out var parent);
        var activity = Source.StartActivity(name, kind, parent);
        activity?.SetTag("task.id", taskId);
        return activity;
    }
}
