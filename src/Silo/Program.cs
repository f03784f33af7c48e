using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansScheduler.Silo.Hosting;
using OrleansScheduler.Silo.Logging;
using OrleansScheduler.Silo.Telemetry;

namespace OrleansScheduler.Silo;

/// <summary>A silo on its own: <c>dotnet run --project src/Silo</c>, with the same settings as the
/// WebApi's silo. A named class rather than top-level statements: .NET 10 makes a top-level
/// Program public, and a second public Program beside the WebApi's is ambiguous to tests that
/// start the WebApi with WebApplicationFactory&lt;Program&gt;.</summary>
internal static class SiloProgram
{
    public static async Task Main(string[] args)
    {
        // appsettings.json is found next to the program, whichever folder it is started from.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddSchedulerEnvironment();
        builder.Logging.AddSchedulerConsole(builder.Configuration);
        builder.UseOrleans(silo => silo.AddScheduler(builder.Configuration));
        builder.Services.AddSchedulerOpenTelemetry(builder.Configuration);
        await builder.Build().RunAsync();
    }
}
