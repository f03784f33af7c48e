using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Security;

/// <summary>The real WebApi with two API keys configured the way an operator does (the one-string
/// form of API_KEYS), logging everything at every level into <see cref="AllLogs"/>.</summary>
public class KeyedSchedulerApp : SchedulerApp
{
    public const string OperateKey = "operate-3f9c1e7a5b2d4c6e8f0a1b2c3d4e5f60";
    public const string ReadKey = "read-9a8b7c6d5e4f30211f2e3d4c5b6a7988";

    /// <summary>One character off the operate key: a mistyped real key must not be logged either.</summary>
    public const string WrongKey = "operate-3f9c1e7a5b2d4c6e8f0a1b2c3d4e5f61";

    public LogRecorder AllLogs { get; } = new();

    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Api:KeyList"] = $"{OperateKey}:operate,{ReadKey}:read",
        // Everything our code and ASP.NET Core log, so the test of "keys are never logged" sees it all.
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Orleans"] = "Debug",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder!.ConfigureLogging(logging => logging.AddProvider(AllLogs));
    }

    /// <summary>A client sending <paramref name="key"/> as Authorization: Bearer, or as X-Api-Key.</summary>
    public HttpClient Client(string? key, bool bearer = true)
    {
        var client = CreateClient();
        if (key is not null)
        {
            if (bearer)
            {
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
            else
            {
                client.DefaultRequestHeaders.Add("X-Api-Key", key);
            }
        }

        return client;
    }
}

/// <summary>Every log entry at every level: category, message, exception text and scope values.</summary>
public sealed class LogRecorder : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _entries = new();

    public IReadOnlyList<string> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Recording(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Recording(string category, ConcurrentQueue<string> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            entries.Enqueue($"scope {category}: {state}"
                + (state is IEnumerable<KeyValuePair<string, object?>> pairs ? " " + string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : ""));
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            var pairs = state is IEnumerable<KeyValuePair<string, object?>> values ? string.Join(" ", values.Select(p => $"{p.Key}={p.Value}")) : "";
            entries.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {pairs} {exception}");
        }
    }
}
