using System.Collections.Frozen;
using System.Reflection;

namespace OrleansScheduler.WebApi.Endpoints;

/// <summary>The live dashboard at /dashboard: a few static files (Dashboard/*.html, .js, .css)
/// embedded in this assembly, so it is served wherever the program runs from, with no content
/// root, build step or network. The page itself polls the JSON API.</summary>
public static class DashboardEndpoints
{
    public const string Path = "/dashboard";

    private const string ResourcePrefix = "Dashboard/";

    // Scripts, styles and requests from this origin only: no inline script, no CDN, no fonts. A
    // piece of task data that ever slipped into markup could not run.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static readonly Lazy<FrozenDictionary<string, DashboardFile>> Files = new(Load);

    public static IEndpointRouteBuilder MapDashboardEndpoints(this IEndpointRouteBuilder app)
    {
        // Routing ignores a trailing slash: this is /dashboard and /dashboard/ alike.
        app.MapGet(Path, (HttpContext context) => Serve(context, "index.html")).ExcludeFromDescription();
        app.MapGet(Path + "/{file}", (HttpContext context, string file) => Serve(context, file)).ExcludeFromDescription();
        return app;
    }

    private static IResult Serve(HttpContext context, string name)
    {
        if (!Files.Value.TryGetValue(name, out var file))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache"; // Revalidate: a new build's page must not mix with an old script.
        headers.ETag = file.ETag;
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        if (context.Request.Headers.IfNoneMatch == file.ETag)
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(file.Content, file.ContentType);
    }

    private static FrozenDictionary<string, DashboardFile> Load()
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        var files = new Dictionary<string, DashboardFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var name = resource[ResourcePrefix.Length..];
            if (!ContentTypes.TryGetValue(System.IO.Path.GetExtension(name), out var contentType))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var etag = $"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content))[..16]}\"";
            files[name] = new DashboardFile(content, contentType, etag);
        }

        return files.Count > 0
            ? files.ToFrozenDictionary(StringComparer.Ordinal)
            : throw new InvalidOperationException($"{assembly.GetName().Name} embeds no {ResourcePrefix} files; see WebApi.csproj.");
    }

    private sealed record DashboardFile(byte[] Content, string ContentType, string ETag);
}
