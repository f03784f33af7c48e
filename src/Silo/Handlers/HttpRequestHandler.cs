using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace OrleansScheduler.Silo.Handlers;

/// <summary>Type "http": calls a URL, the most asked-for job of a scheduler (webhooks, cache warmers,
/// report triggers). The payload says what to send:
/// <c>{"url": "https://...", "method": "POST", "headers": {"X-Key": "..."}, "body": {...}}</c>.
/// A response outside 2xx fails the attempt, so it is retried with backoff. The result is
/// <c>{"status_code": 200, "body": ...}</c>, the body parsed as JSON when it is JSON.</summary>
public sealed class HttpRequestHandler(IHttpClientFactory clients) : ITaskHandler
{
    public const string TypeName = "http";
    public const string ClientName = "OrleansScheduler.Http";
    private const int MaxBodyChars = 64 * 1024;

    public async Task<JsonElement?> ExecuteAsync(TaskExecution execution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        if (execution.Payload is not { ValueKind: JsonValueKind.Object } payload
            || !payload.TryGetProperty("url", out var urlElement)
            || urlElement.ValueKind != JsonValueKind.String
            || !Uri.TryCreate(urlElement.GetString(), UriKind.Absolute, out var url)
            || url.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"Task '{execution.TaskId}': payload.url must be an absolute http or https URL.");
        }

        var method = payload.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String
            ? new HttpMethod(m.GetString()!.ToUpperInvariant())
            : HttpMethod.Get;
        using var request = new HttpRequestMessage(method, url);
        if (payload.TryGetProperty("body", out var body) && body.ValueKind != JsonValueKind.Null)
        {
            request.Content = body.ValueKind == JsonValueKind.String
                ? new StringContent(body.GetString()!, Encoding.UTF8, "text/plain")
                : new StringContent(body.GetRawText(), Encoding.UTF8, "application/json");
        }

        if (payload.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
        {
            foreach (var header in headers.EnumerateObject())
            {
                var value = header.Value.ValueKind == JsonValueKind.String ? header.Value.GetString() : header.Value.GetRawText();
                if (!request.Headers.TryAddWithoutValidation(header.Name, value))
                {
                    request.Content?.Headers.TryAddWithoutValidation(header.Name, value);
                }
            }
        }

        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("OrleansScheduler", "1.0"));
        request.Headers.TryAddWithoutValidation("X-Task-Id", execution.TaskId);
        request.Headers.TryAddWithoutValidation("X-Task-Attempt", execution.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (text.Length > MaxBodyChars)
        {
            text = text[..MaxBodyChars];
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"{method} {url} answered {(int)response.StatusCode} {response.ReasonPhrase}: {Shorten(text)}", null, response.StatusCode);
        }

        return JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["status_code"] = (int)response.StatusCode,
            ["body"] = ParseOrText(text),
        });
    }

    private static object? ParseOrText(string text)
    {
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return text;
        }
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";
}
