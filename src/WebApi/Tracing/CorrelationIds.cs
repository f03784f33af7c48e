using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace OrleansScheduler.WebApi.Tracing;

/// <summary>A client's <c>X-Correlation-Id</c> as a W3C trace id, so a request that names itself
/// that way gets the same trace id in every log line as one that sends a <c>traceparent</c>.</summary>
public static class CorrelationIds
{
    public const string HeaderName = "X-Correlation-Id";

    /// <summary>The response header that gives the request's trace id (what to grep the logs for).</summary>
    public const string TraceIdHeaderName = "X-Trace-Id";

    /// <summary>Longer ids, or ids with characters outside printable ASCII, are ignored (the request
    /// gets a trace id of its own) rather than echoed or logged.</summary>
    public const int MaxLength = 128;

    /// <summary>A 32-hex-digit id is the trace id itself; a GUID in any of its forms is its 32
    /// digits; anything else is hashed (SHA-256, first 16 bytes), so the same id always maps to the
    /// same trace id.</summary>
    public static bool TryGetTraceId(string? correlationId, out ActivityTraceId traceId)
    {
        traceId = default;
        if (!IsUsable(correlationId))
        {
            return false;
        }

        var id = correlationId!.Trim();
        if (id.Length == 32 && id.All(char.IsAsciiHexDigit) && id.Any(c => c != '0'))
        {
            traceId = ActivityTraceId.CreateFromString(id.ToLowerInvariant());
            return true;
        }

        if (Guid.TryParse(id, out var guid) && guid != Guid.Empty)
        {
            traceId = ActivityTraceId.CreateFromString(guid.ToString("N"));
            return true;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(id), hash);
        traceId = ActivityTraceId.CreateFromBytes(hash[..16]);
        return true;
    }

    /// <summary>Non-empty, at most <see cref="MaxLength"/> characters, printable ASCII only: safe to
    /// echo in a header and to write in a log line.</summary>
    public static bool IsUsable(string? correlationId) =>
        !string.IsNullOrWhiteSpace(correlationId)
        && correlationId.Length <= MaxLength
        && correlationId.All(c => c is >= ' ' and <= '~');
}
