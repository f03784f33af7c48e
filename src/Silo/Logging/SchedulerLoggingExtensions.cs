using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace OrleansScheduler.Silo.Logging;

public static class SchedulerLoggingExtensions
{
    /// <summary>Console logs as one JSON object per line (<see cref="SchedulerJsonFormatter"/>),
    /// unless Logging:Console:FormatterName names another formatter: "simple" gives .NET's readable
    /// lines for local use, "json" .NET's own JSON. LOG_LEVEL and Logging:LogLevel set the levels
    /// as before.</summary>
    public static ILoggingBuilder AddSchedulerConsole(this ILoggingBuilder logging, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(logging);
        ArgumentNullException.ThrowIfNull(configuration);
        logging.AddConsole();
        logging.AddConsoleFormatter<SchedulerJsonFormatter, SchedulerJsonFormatterOptions>();
        if (string.IsNullOrWhiteSpace(configuration["Logging:Console:FormatterName"]))
        {
            logging.Services.Configure<ConsoleLoggerOptions>(o => o.FormatterName = SchedulerJsonFormatter.FormatterName);
        }

        return logging;
    }

    /// <summary>Every line this process writes names <paramref name="silo"/>.</summary>
    public static IServiceCollection AddSiloNameToLogs(this IServiceCollection services, string silo) =>
        services.Configure<SchedulerJsonFormatterOptions>(o => o.Silo = silo);
}
