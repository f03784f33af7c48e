using Microsoft.Extensions.Configuration;

namespace OrleansScheduler.Silo.Telemetry;

/// <summary>The "Telemetry" section (docs/operations.md). Tracing has no switch of its own:
/// it is on exactly when OTEL_EXPORTER_OTLP_ENDPOINT is set, since spans without an exporter are
/// cost with no reader (and with no listener the scheduler's spans are never created).</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>The standard OpenTelemetry variable; its exporter reads the rest of OTEL_EXPORTER_OTLP_*.</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Telemetry:Metrics:Enabled (TELEMETRY_METRICS_ENABLED): false registers no MeterProvider,
    /// so no instrument is listened to, /metrics is not mapped and no OTLP metrics are sent.</summary>
    public bool MetricsEnabled { get; init; } = true;

    /// <summary>Telemetry:Metrics:PrometheusPort: a silo process (src/Silo, which has no HTTP server)
    /// serves Prometheus text at http://PrometheusHost:PORT/metrics when set; 0 (the default) serves none.</summary>
    public int PrometheusPort { get; init; }

    /// <summary>Telemetry:Metrics:PrometheusHost: the host name that listener binds (localhost by
    /// default; the machine's name or address for a Prometheus server elsewhere).</summary>
    public string PrometheusHost { get; init; } = "localhost";

    /// <summary>Telemetry:Metrics:Orleans: Orleans' own meters beside ours (default true).</summary>
    public bool OrleansMetrics { get; init; } = true;

    public string? OtlpEndpoint { get; init; }

    /// <summary>Telemetry:OrleansDashboard:Enabled: Orleans' dashboard on every silo (its grains and
    /// call profiler) and at /orleans on the WebApi.</summary>
    public bool OrleansDashboardEnabled { get; init; } = true;

    public bool OtlpEnabled => !string.IsNullOrWhiteSpace(OtlpEndpoint);

    public bool TracingEnabled => OtlpEnabled;

    public static TelemetryOptions From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var port = configuration.GetValue($"{SectionName}:Metrics:PrometheusPort", 0);
        if (port is < 0 or > 65535)
        {
            throw new InvalidOperationException($"{SectionName}:Metrics:PrometheusPort must be a TCP port (1-65535), or 0 for none; it is {port}.");
        }

        return new TelemetryOptions
        {
            MetricsEnabled = configuration.GetValue($"{SectionName}:Metrics:Enabled", true),
            PrometheusPort = port,
            OrleansMetrics = configuration.GetValue($"{SectionName}:Metrics:Orleans", true),
            PrometheusHost = configuration[$"{SectionName}:Metrics:PrometheusHost"] is { Length: > 0 } host ? host : "localhost",
            OtlpEndpoint = configuration[OtlpEndpointKey],
            OrleansDashboardEnabled = configuration.GetValue($"{SectionName}:OrleansDashboard:Enabled", true),
        };
    }
}
