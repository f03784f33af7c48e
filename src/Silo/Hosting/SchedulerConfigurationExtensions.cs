using Microsoft.Extensions.Configuration;

namespace OrleansScheduler.Silo.Hosting;

public static class SchedulerConfigurationExtensions
{
    /// <summary>Maps the seeds' environment names onto .NET configuration keys:
    /// MAX_CONCURRENT_TASKS, DATABASE_URL, LOG_LEVEL, SILO_ID, and the WebApi's API_KEYS and
    /// RATE_LIMIT_SUBMITS_PER_SECOND. A key set elsewhere (appsettings.json,
    /// command line) is left alone unless the environment names it.</summary>
    public static IConfigurationBuilder AddSchedulerEnvironment(this IConfigurationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var mapped = new Dictionary<string, string?>();
        Map("MAX_CONCURRENT_TASKS", "Scheduler:MaxConcurrentTasks");
        Map("DATABASE_URL", "Storage:DatabaseUrl");
        Map("LOG_LEVEL", "Logging:LogLevel:Default");
        Map("SILO_ID", "Silo:SiloId");
        Map("API_KEYS", "Api:KeyList");
        Map("RATE_LIMIT_SUBMITS_PER_SECOND", "Api:SubmitsPerSecond");
        return builder.AddInMemoryCollection(mapped);

        void Map(string variable, string key)
        {
            var value = Environment.GetEnvironmentVariable(variable);
            if (!string.IsNullOrWhiteSpace(value))
            {
                mapped[key] = variable == "LOG_LEVEL" ? NormalizeLogLevel(value) : value;
            }
        }
    }

    /// <summary>Seeds write "info" and "DEBUG"; .NET wants "Information" and "Debug".</summary>
    private static string NormalizeLogLevel(string value) => value.Trim().ToLowerInvariant() switch
    {
        "trace" => "Trace",
        "debug" => "Debug",
        "info" or "information" => "Information",
        "warn" or "warning" => "Warning",
        "error" => "Error",
        "critical" or "fatal" => "Critical",
        "none" or "off" => "None",
        _ => value,
    };
}
