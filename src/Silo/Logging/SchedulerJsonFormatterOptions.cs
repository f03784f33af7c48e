using Microsoft.Extensions.Logging.Console;

namespace OrleansScheduler.Silo.Logging;

/// <summary>Options of <see cref="SchedulerJsonFormatter"/>: bound from Logging:Console:FormatterOptions
/// like .NET's own formatters; the silo's name is set by the host that runs one.</summary>
public sealed class SchedulerJsonFormatterOptions : ConsoleFormatterOptions
{
    /// <summary>The silo this process hosts (Silo:SiloId as Orleans knows it), on every line; none
    /// in a pure front end.</summary>
    public string? Silo { get; set; }
}
