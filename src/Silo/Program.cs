using Microsoft.Extensions.Hosting;
using OrleansScheduler.Silo.Hosting;

// A silo on its own: `dotnet run --project src/Silo`. Same settings as the WebApi's silo.
var builder = Host.CreateApplicationBuilder(args);
builder.Configuration.AddSchedulerEnvironment();
builder.Services.AddSilo(builder.Configuration);
await builder.Build().RunAsync();
