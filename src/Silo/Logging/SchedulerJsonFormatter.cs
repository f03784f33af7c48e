using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansScheduler.Grains.Telemetry;

namespace OrleansScheduler.Silo.Logging;

/// <summary>One JSON object per line, flat, with the fields an operator greps and a log pipeline
/// indexes: <c>time</c>, <c>level</c>, <c>category</c>, <c>message</c>, <c>trace_id</c> and
/// <c>span_id</c>, <c>task_id</c> and <c>attempt</c> where a task is concerned, <c>silo</c>, the
/// event, the message's other values under <c>fields</c> and the <c>exception</c>.
/// .NET's own "json" formatter nests the task id and trace id in a list of scopes and knows nothing
/// of the silo or of a trace carried by an Orleans grain call, so <c>grep trace_id</c> over the
/// silos' logs would miss every line written inside a grain.</summary>
/// <remarks>Where the trace id comes from, first found: a logging scope with a <c>TraceId</c> (the
/// executor's scope around an attempt); the W3C <c>traceparent</c> in Orleans'
/// <see cref="RequestContext"/>, which the HTTP edge sets for each request, which flows with every
/// grain call made on its behalf, and which a task's grain restores from its state when it acts on
/// its own (a grant, a report, a timer); the current <see cref="Activity"/>.</remarks>
public sealed class SchedulerJsonFormatter : ConsoleFormatter, IDisposable
{
    public const string FormatterName = "scheduler-json";

    // Logs are not HTML: keep non-ASCII text and quotes readable rather than \uXXXX-escaped.
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private readonly IDisposable? _optionsReload;
    private SchedulerJsonFormatterOptions _options;

    public SchedulerJsonFormatter(IOptionsMonitor<SchedulerJsonFormatterOptions> options)
        : base(FormatterName)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.CurrentValue;
        _optionsReload = options.OnChange(o => _options = o);
    }

    public void Dispose() => _optionsReload?.Dispose();

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        ArgumentNullException.ThrowIfNull(textWriter);
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        var line = new Line(logEntry.State as IReadOnlyList<KeyValuePair<string, object?>>);
        scopeProvider?.ForEachScope(static (scope, line) => line.AddScope(scope), line);
        line.ResolveTrace();

        var options = _options;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteString("level", LevelName(logEntry.LogLevel));
            json.WriteString("category", logEntry.Category);
            json.WriteString("message", message ?? logEntry.Exception!.Message);
            if (logEntry.EventId.Id != 0 || logEntry.EventId.Name is not null)
            {
                json.WriteString("event", logEntry.EventId.Name ?? logEntry.EventId.Id.ToString(CultureInfo.InvariantCulture));
            }

            WriteIfSet(json, "trace_id", line.TraceId);
            WriteIfSet(json, "span_id", line.SpanId);
            WriteIfSet(json, "task_id", line.TaskId);
            if (line.Attempt is { } attempt)
            {
                json.WriteNumber("attempt", attempt);
            }

            WriteIfSet(json, "silo", options.Silo);
            line.WriteFields(json);
            if (logEntry.Exception is not null)
            {
                json.WriteString("exception", logEntry.Exception.ToString());
            }

            json.WriteEndObject();
        }

        textWriter.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
        textWriter.Write(Environment.NewLine);
    }

    private static void WriteIfSet(Utf8JsonWriter json, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            json.WriteString(name, value);
        }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "Trace",
        LogLevel.Debug => "Debug",
        LogLevel.Information => "Information",
        LogLevel.Warning => "Warning",
        LogLevel.Error => "Error",
        LogLevel.Critical => "Critical",
        _ => level.ToString(),
    };

    /// <summary>What one entry says about its task and trace, gathered from its values and scopes.</summary>
    private sealed class Line
    {
        private readonly IReadOnlyList<KeyValuePair<string, object?>>? _state;

        public Line(IReadOnlyList<KeyValuePair<string, object?>>? state)
        {
            _state = state;
            if (state is not null)
            {
                foreach (var (key, value) in state)
                {
                    Note(key, value);
                }
            }
        }

        public string? TaskId { get; private set; }

        public int? Attempt { get; private set; }

        public string? TraceId { get; private set; }

        public string? SpanId { get; private set; }

        public void AddScope(object? scope)
        {
            if (scope is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values)
                {
                    Note(key, value);
                }
            }
        }

        /// <summary>The entry's own values win over its scopes' (they come first); among scopes, the
        /// outermost that says.</summary>
        private void Note(string key, object? value)
        {
            switch (key)
            {
                case "TaskId" when TaskId is null && value is not null:
                    TaskId = Convert.ToString(value, CultureInfo.InvariantCulture);
                    break;
                case "Attempt" when Attempt is null && value is int attempt:
                    Attempt = attempt;
                    break;
                case "TraceId" when TraceId is null && value is not null:
                    TraceId = Convert.ToString(value, CultureInfo.InvariantCulture);
                    break;
                case "SpanId" when SpanId is null && value is not null:
                    SpanId = Convert.ToString(value, CultureInfo.InvariantCulture);
                    break;
            }
        }

        /// <summary>An attempt's scope names its trace; a grain turn's is in Orleans' request
        /// context, which Orleans sets for every message it delivers, where Activity.Current may be
        /// whatever the thread that queued the message had; otherwise the current activity's.</summary>
        public void ResolveTrace()
        {
            if (TraceId is not null)
            {
                return;
            }

            if (RequestContext.Get(TaskTracing.RequestContextKey) is string traceParent
                && ActivityContext.TryParse(traceParent, null, out var context))
            {
                TraceId = context.TraceId.ToHexString();
                SpanId = context.SpanId.ToHexString();
            }
            else if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity)
            {
                TraceId = activity.TraceId.ToHexString();
                SpanId = activity.SpanId.ToHexString();
            }
        }

        /// <summary>The message's other values, under "fields": the template's, not its scopes'.</summary>
        public void WriteFields(Utf8JsonWriter json)
        {
            if (_state is null)
            {
                return;
            }

            var started = false;
            foreach (var (key, value) in _state)
            {
                if (key is "{OriginalFormat}" or "TaskId" or "Attempt")
                {
                    continue;
                }

                if (!started)
                {
                    json.WriteStartObject("fields");
                    started = true;
                }

                WriteValue(json, key, value);
            }

            if (started)
            {
                json.WriteEndObject();
            }
        }

        private static void WriteValue(Utf8JsonWriter json, string key, object? value)
        {
            switch (value)
            {
                case null:
                    json.WriteNull(key);
                    break;
                case bool b:
                    json.WriteBoolean(key, b);
                    break;
                case int or long or short or byte or uint or ulong or ushort or sbyte:
                    json.WriteNumber(key, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                    break;
                case double d when double.IsFinite(d):
                    json.WriteNumber(key, d);
                    break;
                case float f when float.IsFinite(f):
                    json.WriteNumber(key, f);
                    break;
                case decimal m:
                    json.WriteNumber(key, m);
                    break;
                case DateTimeOffset time:
                    json.WriteString(key, time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                    break;
                case TimeSpan span:
                    json.WriteNumber(key + "_ms", span.TotalMilliseconds);
                    break;
                default:
                    json.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture));
                    break;
            }
        }
    }
}
