using OrleansScheduler.Silo;
using OrleansScheduler.Silo.Hosting;
using OrleansScheduler.Silo.Logging;
using OrleansScheduler.WebApi;
using OrleansScheduler.WebApi.Endpoints;
using OrleansScheduler.WebApi.Health;
using OrleansScheduler.WebApi.OpenApi;
using OrleansScheduler.WebApi.Requests;
using OrleansScheduler.WebApi.Security;
using OrleansScheduler.WebApi.Telemetry;
using OrleansScheduler.WebApi.Tracing;

// appsettings.json is found next to the program, whichever folder it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddSchedulerEnvironment();
builder.WebHost.UseSchedulerUrls(builder.Configuration);
builder.Logging.AddSchedulerConsole(builder.Configuration);
builder.Services.AddSchedulerTraceContext();

builder.Services.ConfigureHttpJsonOptions(options => ApiJson.Configure(options.SerializerOptions));
builder.Services.AddOptions<ApiOptions>().Bind(builder.Configuration.GetSection(ApiOptions.SectionName));
builder.AddSchedulerSecurity();
// trace_id: the request's trace id as every log line carries it, not ASP.NET Core's whole W3C id.
builder.Services.AddProblemDetails(options =>
    options.CustomizeProblemDetails = problem => problem.ProblemDetails.Extensions["trace_id"] = TraceContextExtensions.TraceIdOf(problem.HttpContext));
builder.Services.AddExceptionHandler<ApiExceptionHandler>();
// One process co-hosts a silo (the default, on SQLite); with Silo:Enabled=false it is a pure front
// end, an Orleans client of the silos on the same PostgreSQL database.
if (builder.Configuration.GetValue(SchedulerSiloOptions.SectionName + ":" + nameof(SchedulerSiloOptions.Enabled), true))
{
    builder.UseOrleans(silo => silo.AddScheduler(builder.Configuration));
}
else
{
    builder.UseOrleansClient(client => client.AddSchedulerClient(builder.Configuration));
}

builder.Services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
builder.AddSchedulerTelemetry();
builder.Services.AddEndpointsApiExplorer();
builder.Services.AddSwaggerGen(options => options.OperationFilter<RequestBodyFilter>());

var app = builder.Build();
app.UseSchedulerTraceContext();
app.UseExceptionHandler();
app.UseStatusCodePages();
try
{
    app.UseSchedulerSecurity(); // before anything that needs a key, /orleans and /metrics included
}
catch (StartupRefusedException refused)
{
    app.Logger.LogCritical("{Reason}", refused.Message);
    await app.DisposeAsync(); // flushes the log line
    return 1;
}

app.UseSwagger(options => options.RouteTemplate = "docs/{documentName}/swagger.json");
app.UseSwaggerUI(options =>
{
    options.RoutePrefix = "docs";
    options.SwaggerEndpoint("/docs/v1/swagger.json", "OrleansScheduler API v1");
});

app.MapTaskEndpoints();
app.MapStatsEndpoints();
app.MapWorkerEndpoints();
app.MapHistoryEndpoints();
app.MapSeedCompatibilityEndpoints();
app.MapDashboardEndpoints();
app.UseSchedulerTelemetry();
app.MapHealthChecks("/health/live", new() { Predicate = _ => false });
app.MapHealthChecks("/health/ready", new() { Predicate = check => check.Tags.Contains("ready") });
app.MapGet("/", () => Results.Redirect(DashboardEndpoints.Path)).ExcludeFromDescription();

await app.RunAsync();
return 0;

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
