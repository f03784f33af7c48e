using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using OrleansScheduler.WebApi.Telemetry;

namespace OrleansScheduler.WebApi.Security;

/// <summary>The "ApiKey" authentication scheme: a key from <c>Authorization: Bearer &lt;key&gt;</c> or
/// <c>X-Api-Key: &lt;key&gt;</c> (and, for reads under /orleans only, the <c>scheduler_api_key</c>
/// cookie) becomes a principal with the key's role. Its challenge is a 401 and its forbid a 403,
/// both problem+json. Keys are never put in a log line or an answer.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeys keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    /// <summary>The Orleans dashboard at /orleans is a third-party page that cannot add a header to
    /// its requests; our dashboard stores the key in this cookie for it.</summary>
    public const string CookieName = "scheduler_api_key";

    private const string Realm = "OrleansScheduler";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!keys.Enabled)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var presented = Presented(Request);
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var key = keys.Find(presented);
        if (key is null)
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not one of the configured keys."));
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, key.Id), new Claim(ClaimTypes.Name, key.Id), new Claim(ClaimTypes.Role, key.Role)],
            SchemeName,
            ClaimTypes.Name,
            ClaimTypes.Role);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var invalid = result.Failure is not null;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        // RFC 6750: a request without credentials gets the bare challenge; a wrong key, invalid_token.
        Response.Headers.WWWAuthenticate = invalid ? $"Bearer realm=\"{Realm}\", error=\"invalid_token\"" : $"Bearer realm=\"{Realm}\"";
        await TypedResults.Problem(
            detail: invalid
                ? $"The API key sent in Authorization or {HeaderName} is not valid."
                : $"This server requires an API key: send Authorization: Bearer <key> or {HeaderName}: <key>.",
            statusCode: StatusCodes.Status401Unauthorized,
            title: invalid ? "The API key is not valid." : "An API key is required.",
            extensions: new Dictionary<string, object?> { ["headers"] = new[] { "Authorization", HeaderName } }).ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await TypedResults.Problem(
            detail: $"This API key may only read; {Request.Method} needs a key with the '{ApiKeyRoles.Operate}' role.",
            statusCode: StatusCodes.Status403Forbidden,
            title: "The API key may not do this.",
            extensions: new Dictionary<string, object?> { ["required_role"] = ApiKeyRoles.Operate }).ExecuteAsync(Context);
    }

    /// <summary>The key the request carries: Authorization's Bearer token first, then X-Api-Key,
    /// then (GET or HEAD under /orleans only) the cookie. The cookie is refused elsewhere and for
    /// mutations, so a cross-site form can never act with it.</summary>
    private static string? Presented(HttpRequest request)
    {
        foreach (var value in request.Headers.Authorization)
        {
            if (value is not null && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                var token = value["Bearer ".Length..].Trim();
                if (token.Length > 0)
                {
                    return token;
                }
            }
        }

        var header = request.Headers[HeaderName].ToString().Trim();
        if (header.Length > 0)
        {
            return header;
        }

        if ((HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            && request.Path.StartsWithSegments(SchedulerTelemetryWebExtensions.OrleansDashboardPath, StringComparison.OrdinalIgnoreCase)
            && request.Cookies.TryGetValue(CookieName, out var cookie)
            && !string.IsNullOrWhiteSpace(cookie))
        {
            return cookie.Trim();
        }

        return null;
    }
}
