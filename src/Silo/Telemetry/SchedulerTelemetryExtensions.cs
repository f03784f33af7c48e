using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrleansScheduler.Grains.Telemetry;

namespace OrleansScheduler.Silo.Telemetry;

public static class SchedulerTelemetryExtensions
{
    /// <summary>The Orleans meters published beside ours: the runtime's ("Microsoft.Orleans":
    /// messaging, activations, catalog, scheduler, gateway) and its grain storage's
    /// ("Microsoft.Orleans.GrainStorage").</summary>
    public static readonly string[] OrleansMeters = ["Microsoft.Orleans", "Microsoft.Orleans.GrainStorage"];

    /// <summary>Orleans' ActivitySources for grain calls (Orleans.Runtime.ActivitySources).</summary>
    public static readonly string[] OrleansActivitySources = ["Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime"];

    public const string ServiceName = "orleans-scheduler";

    /// <summary>Orleans instruments counted several times per grain call (directory lookups by
    /// cache level, local message hops): the bench's drain recorded about 30 Orleans measurements
    /// per task, a third of them these, which say nothing an operator acts on that
    /// orleans_app_requests_latency, orleans_messaging_processing_dispatcher_* and
    /// orleans_catalog_* do not. Dropped, so they are not even recorded.</summary>
    public static readonly string[] DroppedOrleansInstruments =
    [
        "orleans-directory-lookups-local-issued", "orleans-directory-lookups-local-successes",
        "orleans-directory-lookups-cache-issued", "orleans-directory-lookups-cache-successes",
        "orleans-directory-lookups-local-directory-issued", "orleans-directory-lookups-local-directory-successes",
        "orleans-directory-lookups-full-issued", "orleans-directory-registrations-single-act-issued",
        "orleans-directory-registrations-single-act-local", "orleans-directory-unregistrations-local",
        "orleans-messaging-sent-local", "orleans-messaging-processing-ima-received", "orleans-messaging-processing-ima-enqueued",
    ];

    /// <summary>Each metric keeps at most this many series: OpenTelemetry sizes every metric's
    /// storage by its limit (2,000 by default), which with Orleans' hundred instruments held about
    /// 20 MB; ours stay under it (MaxTypes 100 types).</summary>
    public const int CardinalityLimit = 500;

    private static MetricStreamConfiguration? View(System.Diagnostics.Metrics.Instrument instrument) =>
        instrument.Meter.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal) && DroppedOrleansInstruments.Contains(instrument.Name)
            ? MetricStreamConfiguration.Drop
            : new MetricStreamConfiguration { CardinalityLimit = CardinalityLimit };

    /// <summary>OpenTelemetry for a scheduler process: our meter and Orleans' (unless
    /// Telemetry:Metrics:Enabled is false), exported by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
    /// and by whatever <paramref name="metrics"/> adds (the WebApi's /metrics, a silo's Prometheus
    /// port); traces of our spans and Orleans' grain calls, by OTLP only. Nothing is registered when
    /// neither is on, so instruments and spans have no listener.</summary>
    public static IServiceCollection AddSchedulerOpenTelemetry(
        this IServiceCollection services,
        IConfiguration configuration,
        Action<MeterProviderBuilder, TelemetryOptions>? metrics = null,
        Action<TracerProviderBuilder>? tracing = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = TelemetryOptions.From(configuration);
        services.AddSingleton(options);
        services.AddSchedulerMetrics(configuration);
        if (!options.MetricsEnabled && !options.TracingEnabled)
        {
            return services;
        }

        var otel = services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService(ServiceName));
        if (options.MetricsEnabled)
        {
            otel.WithMetrics(builder =>
            {
                // No exemplars: Prometheus text does not carry them, and with OpenTelemetry's default
                // filter every measurement made inside an HTTP request (whose activity ASP.NET Core
                // starts) was offered to a reservoir: the submit bench lost a fifth of its rate
                // (accepted on / off 0.77-0.82 in three runs; 0.97 without exemplars).
                builder.AddMeter(SchedulerMetrics.MeterName).AddView(View).SetExemplarFilter(ExemplarFilterType.AlwaysOff);
                if (options.OrleansMetrics)
                {
                    builder.AddMeter(OrleansMeters);
                }

                metrics?.Invoke(builder, options);
                if (options.PrometheusPort > 0)
                {
                    builder.AddPrometheusHttpListener(o => (o.Host, o.Port) = (options.PrometheusHost, options.PrometheusPort));
                }

                if (options.OtlpEnabled)
                {
                    builder.AddOtlpExporter();
                }
            });
        }

        if (options.TracingEnabled)
        {
            otel.WithTracing(builder =>
            {
                builder.AddSource(TaskTracing.SourceName).AddSource(OrleansActivitySources);
                tracing?.Invoke(builder);
                builder.AddOtlpExporter();
            });
        }

        return services;
    }
}
