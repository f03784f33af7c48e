using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>The property "a 2xx stores exactly what it answered": the task read back through the API
/// against the task object that was sent, read the way the README describes the fields (aliases,
/// defaults, timeout in seconds, run_at as an instant).</summary>
public static class StoredTask
{
    private const int DefaultPriority = 5;
    private const int DefaultMaxAttempts = 3;

    /// <summary>RFC 3339's date-time (section 5.6), the offset optional as the README allows.</summary>
    private const string Rfc3339 = @"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$";

    public static void AssertMatches(JsonElement sent, JsonObject stored, string answeredId)
    {
        var names = sent.EnumerateObject().Select(p => p.Name).ToList();
        var repeated = names.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(repeated.Count == 0, $"accepted a task that holds a field twice ({string.Join(", ", repeated)}): which one is stored is a guess");

        Assert.Equal(answeredId, (string)stored["id"]!);
        if (First(sent, "id", "task_id") is { } id)
        {
            Assert.Equal(id.GetString(), answeredId);
        }

        Assert.Equal(First(sent, "type", "task_type", "name")!.Value.GetString(), (string)stored["type"]!);
        Assert.Equal(Long(sent, "duration_ms") ?? 0, (long)stored["duration_ms"]!);
        Assert.Equal(Long(sent, "priority") ?? DefaultPriority, (long)stored["priority"]!);
        Assert.Equal(Long(sent, "max_attempts") ?? DefaultMaxAttempts, (long)stored["max_attempts"]!);

        long? timeout = Long(sent, "timeout_ms")
            ?? (sent.TryGetProperty("timeout", out var seconds) && seconds.ValueKind == JsonValueKind.Number ? (long)Math.Ceiling(seconds.GetDouble() * 1000) : null);
        Assert.Equal(timeout, (long?)stored["timeout_ms"]);

        var dependencies = sent.TryGetProperty("dependencies", out var deps) && deps.ValueKind == JsonValueKind.Array
            ? deps.EnumerateArray().Select(d => d.GetString()!).Distinct().Order(StringComparer.Ordinal).ToList()
            : [];
        Assert.Equal(dependencies, stored["dependencies"]!.AsArray().Select(d => (string)d!).Distinct().Order(StringComparer.Ordinal).ToList());

        var sentPayload = sent.TryGetProperty("payload", out var payload) && payload.ValueKind != JsonValueKind.Null ? payload : (JsonElement?)null;
        var storedPayload = stored["payload"] is { } node ? JsonSerializer.SerializeToElement(node) : (JsonElement?)null;
        Assert.True(
            sentPayload is null ? storedPayload is null : storedPayload is { } s && JsonElement.DeepEquals(sentPayload.Value, s),
            $"payload sent {Short(sentPayload?.GetRawText())}, stored {Short(storedPayload?.GetRawText())}");

        if (sent.TryGetProperty("run_at", out var sentRunAt) && sentRunAt.ValueKind != JsonValueKind.Null)
        {
            Assert.Matches(Rfc3339, sentRunAt.ValueKind == JsonValueKind.String ? sentRunAt.GetString()! : sentRunAt.GetRawText());
        }

        if (sent.TryGetProperty("run_at", out var runAt) && runAt.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(runAt.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var expected))
        {
            var storedAt = DateTimeOffset.Parse((string)stored["run_at"]!, CultureInfo.InvariantCulture);
            Assert.True(Math.Abs((storedAt - expected).TotalMilliseconds) < 1, $"run_at sent {runAt.GetString()}, stored {storedAt:O}");
        }
        else if (!sent.TryGetProperty("run_at", out var absent) || absent.ValueKind == JsonValueKind.Null)
        {
            Assert.Null(stored["run_at"]);
        }
    }

    public static bool Matches(JsonElement sent, JsonObject stored, string answeredId)
    {
        try
        {
            AssertMatches(sent, stored, answeredId);
            return true;
        }
        catch (Xunit.Sdk.XunitException)
        {
            return false;
        }
    }

    private static JsonElement? First(JsonElement task, params string[] names)
    {
        foreach (var name in names)
        {
            if (task.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                return value;
            }
        }

        return null;
    }

    private static long? Long(JsonElement task, string name) =>
        task.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;

    private static string Short(string? text) => text is null ? "null" : text.Length > 300 ? text[..300] + "..." : text;
}
