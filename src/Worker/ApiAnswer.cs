using System.Text.Json;

namespace OrleansScheduler.Worker;

/// <summary>What the server answered: the HTTP status and body, or status 0 with the reason when no
/// answer came (connection refused or reset, DNS, the request's own timeout).</summary>
internal readonly record struct ApiAnswer(int Status, string Body)
{
    public bool NoAnswer => Status == 0;

    public bool Ok => Status is >= 200 and < 300;

    /// <summary>Worth trying again later: no answer, a server error, or 429.</summary>
    public bool Transient => Status is 0 or 429 or >= 500;

    /// <summary>One line for the log: the status and the problem's detail (or title, or body).</summary>
    public string Describe()
    {
        if (NoAnswer)
        {
            return $"no answer ({Body})";
        }

        var text = Body;
        try
        {
            using var document = JsonDocument.Parse(Body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var detail = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()
                    : root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()
                    : null;
                if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                {
                    detail = $"{detail} {errors.GetRawText()}".Trim();
                }

                text = detail ?? Body;
            }
        }
        catch (JsonException)
        {
            // Not JSON: the body as it is.
        }

        text = text.ReplaceLineEndings(" ").Trim();
        return text.Length == 0 ? $"HTTP {Status}" : $"HTTP {Status}: {(text.Length > 500 ? text[..500] + "..." : text)}";
    }
}
