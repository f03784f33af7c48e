using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using OrleansScheduler.Grains.Telemetry;
using OrleansScheduler.Silo;
using OrleansScheduler.Silo.Telemetry;

namespace OrleansScheduler.WebApi.Telemetry;

/// <summary>The WebApi's telemetry (issue 10): metrics at /metrics and by OTLP, traces by OTLP,
/// the alert rules (GET /api/alerts, a "ready" health check), Orleans' dashboard at /orleans.</summary>
public static class SchedulerTelemetryWebExtensions
{
    public const string MetricsPath = "/metrics";
    public const string AlertsPath = "/api/alerts";
    public const string OrleansDashboardPath = "/orleans";

    public static WebApplicationBuilder AddSchedulerTelemetry(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        var services = builder.Services;
        services.AddSchedulerOpenTelemetry(configuration,
            metrics: (meters, _) => meters.AddPrometheusExporter(),
            tracing: traces => traces.AddAspNetCoreInstrumentation());

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<StatsSnapshot>();
        services.AddOptions<AlertsOptions>().Bind(configuration.GetSection(AlertsOptions.SectionName)).Validate(o =>
        {
            o.Validate();
            return true;
        }).ValidateOnStart();
        services.AddSingleton<AlertEvaluator>();
        if (configuration.GetValue($"{AlertsOptions.SectionName}:{nameof(AlertsOptions.Enabled)}", true))
        {
            services.AddHostedService(provider => provider.GetRequiredService<AlertEvaluator>());
            services.AddHealthChecks().AddCheck<AlertsHealthCheck>("alerts", tags: ["ready"]);
        }

        // A co-hosted silo got the dashboard in AddScheduler; a pure front end adds its client side,
        // which reads the dashboard grains of the silos (src/Silo adds them too).
        var siloEnabled = configuration.GetValue($"{SchedulerSiloOptions.SectionName}:{nameof(SchedulerSiloOptions.Enabled)}", true);
        if (TelemetryOptions.From(configuration).OrleansDashboardEnabled && !siloEnabled)
        {
            builder.UseOrleansClient(client => client.AddDashboard(o => o.HideTrace = true));
        }

        return builder;
    }

    public static WebApplication UseSchedulerTelemetry(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var telemetry = app.Services.GetRequiredService<TelemetryOptions>();
        var evaluator = app.Services.GetRequiredService<AlertEvaluator>();
        if (telemetry.MetricsEnabled)
        {
            var snapshot = app.Services.GetRequiredService<StatsSnapshot>();
            app.Services.GetRequiredService<SchedulerMetrics>().ObserveCluster(snapshot.GetForScrape, () => evaluator.Overdue);
            app.MapPrometheusScrapingEndpoint(MetricsPath);
        }

        app.MapGet(AlertsPath, () => TypedResults.Ok(evaluator.Firing))
            .WithTags("Monitoring")
            .WithSummary("The firing alerts: name, severity, since, message (empty when all is well).");
        if (telemetry.OrleansDashboardEnabled)
        {
            app.MapOrleansDashboard(routePrefix: OrleansDashboardPath);
        }

        return app;
    }
}
