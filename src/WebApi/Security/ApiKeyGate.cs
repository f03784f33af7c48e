using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using OrleansScheduler.WebApi.Endpoints;

namespace OrleansScheduler.WebApi.Security;

/// <summary>Requires a key for every request but a few open paths, once keys are configured: reads
/// need the read policy (any valid key), other methods the operate policy. It runs ASP.NET Core's
/// own policy evaluation (<see cref="IPolicyEvaluator"/>, then the authorization result handler that
/// challenges or forbids through the ApiKey scheme), by path rather than by endpoint metadata,
/// because /orleans and /metrics are middleware of other libraries, not our endpoints, and
/// because a path added later must be closed without anyone remembering to close it.</summary>
public sealed class ApiKeyGate(RequestDelegate next, ApiKeys keys)
{
    private static readonly string[] DashboardFileExtensions = [".html", ".js", ".css", ".svg"];

    public async Task InvokeAsync(
        HttpContext context,
        IAuthorizationPolicyProvider policies,
        IPolicyEvaluator evaluator,
        IAuthorizationMiddlewareResultHandler results)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!keys.Enabled || IsOpen(context.Request.Path))
        {
            await next(context);
            return;
        }

        var name = IsRead(context.Request.Method) ? ApiKeyRoles.ReadPolicy : ApiKeyRoles.OperatePolicy;
        var policy = await policies.GetPolicyAsync(name) ?? throw new InvalidOperationException($"The authorization policy '{name}' is not registered.");
        var authentication = await evaluator.AuthenticateAsync(policy, context);
        var authorization = await evaluator.AuthorizeAsync(policy, authentication, context, context);
        await results.HandleAsync(next, context, policy, authorization);
    }

    /// <summary>GET, HEAD, OPTIONS and TRACE read; everything else (POST, PUT, PATCH, DELETE, ...) mutates.</summary>
    public static bool IsRead(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method);

    /// <summary>The paths that stay open with keys configured: the health checks (probes carry no
    /// key), Swagger at /docs (the API's shape, no data), the redirect at /, and the dashboard's own
    /// static files (code, no data: the page must load to ask for a key; all it shows comes from
    /// /api, which needs one). Everything else needs a key, including paths that do not exist.</summary>
    public static bool IsOpen(PathString path)
    {
        if (!path.HasValue || path.Value == "/")
        {
            return true;
        }

        if (path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
            || path.StartsWithSegments("/docs", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (path.StartsWithSegments(DashboardEndpoints.Path, StringComparison.OrdinalIgnoreCase, out var rest))
        {
            // /dashboard, /dashboard/ (the page) and /dashboard/<file>.<html|js|css|svg>: the only
            // things DashboardEndpoints serves. Any other /dashboard path needs a key.
            var file = rest.Value ?? "";
            return file is "" or "/"
                || (file.LastIndexOf('/') == 0 && DashboardFileExtensions.Any(e => file.EndsWith(e, StringComparison.OrdinalIgnoreCase)));
        }

        return false;
    }
}
