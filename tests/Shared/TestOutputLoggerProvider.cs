using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace OrleansScheduler.Testing;

/// <summary>The silos' warnings and errors go to the test's output, each line naming its silo, so a
/// failing test shows what the silos (Orleans first of all) complained about. Shared by the suites
/// that start silos.</summary>
internal sealed class TestOutputLoggerProvider(ITestOutputHelper output, string silo) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(output, silo, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ITestOutputHelper output, string silo, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{silo} {logLevel} {category}] {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");
            }
            catch (InvalidOperationException)
            {
                // The test has finished; its output is closed.
            }
        }
    }
}
