using System.Net;
using System.Text.Json.Nodes;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Checks of a problem+json answer.</summary>
public static class ProblemJson
{
    /// <summary>Asserts status, media type and that the body mentions each of <paramref name="mentions"/>.</summary>
    public static async Task<JsonObject> AssertAsync(HttpResponseMessage response, HttpStatusCode status, params string[] mentions)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(mentions);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
            $"expected application/problem+json, got {response.Content.Headers.ContentType}: {text}");
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)status, (int)body["status"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)body["title"]), text);
        foreach (var mention in mentions)
        {
            Assert.True(text.Contains(mention, StringComparison.Ordinal), $"the problem does not mention '{mention}': {text}");
        }

        return body;
    }

    /// <summary>Asserts a 400 whose "errors" names <paramref name="field"/>.</summary>
    public static async Task<JsonObject> AssertFieldAsync(HttpResponseMessage response, string field)
    {
        var body = await AssertAsync(response, HttpStatusCode.BadRequest);
        var errors = body["errors"]?.AsObject();
        Assert.True(errors is not null && errors.ContainsKey(field), $"errors do not name '{field}': {body.ToJsonString()}");
        return body;
    }
}
