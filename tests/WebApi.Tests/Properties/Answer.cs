using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>What the API answered to one generated case, with the checks every answer must pass:
/// 2xx, or 4xx problem+json that names a field; and no error in the server's log.</summary>
public sealed record Answer(HttpStatusCode Status, string? MediaType, string Text, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>A problem lists at most 100 fields (as a batch's always did), each with a short reason.</summary>
    private const int MaxProblemChars = 64 * 1024;

    public int Code => (int)Status;

    public bool IsSuccess => Code is >= 200 and < 300;

    public static async Task<Answer> SendAsync(PropertyApp app, HttpCase request)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(request);
        var api = await app.StartAsync();
        var errorsBefore = app.Logs.Errors.Count;
        using var message = request.ToRequest();
        using var response = await api.Http.SendAsync(message);
        var text = await response.Content.ReadAsStringAsync();
        var headers = response.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var answer = new Answer(response.StatusCode, response.Content.Headers.ContentType?.MediaType, text, headers) { Request = $"{request.Method} {request.Target}" };

        var logged = app.Logs.ErrorsSince(errorsBefore);
        Assert.True(logged.Count == 0, $"the server logged errors for {answer}:\n{LogCollector.Describe(logged)}");
        answer.AssertShape();
        var field = answer.IsSuccess ? null : answer.ErrorFields() is { Count: > 0 } fields ? fields[0] : (string?)JsonNode.Parse(text)?["field"];
        app.Answers.AddOrUpdate(field is null ? $"{answer.Code}" : $"{answer.Code} {Generalize(field)}", 1, (_, n) => n + 1);
        return answer;
    }

    /// <summary>2xx, or 4xx as problem+json: status and title, and a field named (errors for a 400;
    /// field, id or errors for the others).</summary>
    private void AssertShape()
    {
        if (IsSuccess)
        {
            return;
        }

        Assert.True(Code is >= 400 and < 500, $"answered {this}");
        Assert.True(Text.Length <= MaxProblemChars, $"a {Code} of {Text.Length:N0} characters: a small request must not buy a large answer: {this}");
        Assert.True(MediaType == "application/problem+json", $"a {Code} that is not problem+json: {this}");
        var body = JsonNode.Parse(Text)!.AsObject();
        Assert.True((int?)body["status"] == Code, $"the problem's status is not {Code}: {Text}");
        Assert.False(string.IsNullOrWhiteSpace((string?)body["title"]), Text);
        var errors = body["errors"] as JsonObject;
        if (Code == 400)
        {
            Assert.True(errors is { Count: > 0 } && errors.All(e => e.Value is JsonArray { Count: > 0 }), $"a 400 that names no field: {Text}");
        }
        else
        {
            Assert.True(body.ContainsKey("field") || body.ContainsKey("id") || errors is { Count: > 0 }, $"a {Code} that names no field: {Text}");
        }
    }

    /// <summary>tasks[3].payload.a[2] as tasks[].payload..., so the tally groups alike answers.</summary>
    private static string Generalize(string field)
    {
        var general = System.Text.RegularExpressions.Regex.Replace(field, @"\[\d+\]", "[]");
        var parts = general.Split('.');
        return parts.Length > 2 ? string.Join('.', parts.Take(2)) + "..." : general;
    }

    /// <summary>The fields a 400 names.</summary>
    public IReadOnlyList<string> ErrorFields() =>
        JsonNode.Parse(Text)?["errors"] is JsonObject errors ? [.. errors.Select(e => e.Key)] : [];

    /// <summary>The request line, for failure messages.</summary>
    public string Request { get; init; } = "";

    public override string ToString() => $"{Request} answered {Code} {MediaType}: {(Text.Length > 2000 ? Text[..2000] + "..." : Text)}";
}
