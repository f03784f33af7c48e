using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OrleansScheduler.WebApi.Tests.Support;

/// <summary>A logger provider that keeps every entry the server logs at <see cref="LogLevel.Error"/> or
/// above, so a test can assert that a request left no unhandled exception in the log (issue 12).</summary>
public sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _errors = new();

    public IReadOnlyList<LogEntry> Errors => [.. _errors];

    public ILogger CreateLogger(string categoryName) => new Collecting(categoryName, _errors);

    /// <summary>The errors logged since <paramref name="mark"/> (a count of <see cref="Errors"/> taken earlier).</summary>
    public IReadOnlyList<LogEntry> ErrorsSince(int mark) => [.. _errors.Skip(mark)];

    public static string Describe(IEnumerable<LogEntry> entries) =>
        string.Join("\n", entries.Select(e => $"  {e.Level} {e.Category}: {e.Message}{(e.Exception is null ? "" : "\n    " + e.Exception.GetType().FullName + ": " + e.Exception.Message)}"));

    public void Dispose()
    {
    }

    public sealed record LogEntry(LogLevel Level, string Category, string Message, Exception? Exception);

    private sealed class Collecting(string category, ConcurrentQueue<LogEntry> errors) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (IsEnabled(logLevel))
            {
                errors.Enqueue(new LogEntry(logLevel, category, formatter(state, exception), exception));
            }
        }
    }
}
