using System.Diagnostics;

namespace OrleansScheduler.WebApi.Tracing;

/// <summary>.NET's W3C propagator, which ASP.NET Core asks for a request's parent trace, plus one
/// rule: a request without a <c>traceparent</c> but with an <c>X-Correlation-Id</c> continues the
/// trace that id names (<see cref="CorrelationIds.TryGetTraceId"/>), so its trace id is known to
/// the client before it sends the request.</summary>
public sealed class CorrelationIdPropagator(DistributedContextPropagator inner) : DistributedContextPropagator
{
    private const string TraceParentHeaderName = "traceparent";

    public override IReadOnlyCollection<string> Fields { get; } = [.. inner.Fields, CorrelationIds.HeaderName];

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
        inner.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        inner.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);
        if (getter is null)
        {
            return;
        }

        getter(carrier, TraceParentHeaderName, out var traceParent, out _);
        if (!string.IsNullOrEmpty(traceParent))
        {
            return;
        }

        getter(carrier, CorrelationIds.HeaderName, out var correlationId, out _);
        if (CorrelationIds.TryGetTraceId(correlationId, out var id))
        {
            // The parent span is made up: the client has none, and a trace needs one. Sampled, so
            // a tracing backend records the request as it would one without any header.
            traceId = $"00-{id.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01";
            traceState = null;
        }
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
        inner.ExtractBaggage(carrier, getter);
}
