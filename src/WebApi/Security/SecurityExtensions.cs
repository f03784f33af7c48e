using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace OrleansScheduler.WebApi.Security;

/// <summary>API keys, the loopback rule and the submission rate limit (issue 10, point 6).</summary>
public static partial class SecurityExtensions
{
    /// <summary>Registers the ApiKey authentication scheme, the read and operate policies, and the
    /// rate limiter. All of it reads the "Api" section when first used, so settings added late (a
    /// test host's) count.</summary>
    public static WebApplicationBuilder AddSchedulerSecurity(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<ApiKeyOptions>().Bind(builder.Configuration.GetSection(ApiOptions.SectionName));
        services.AddSingleton<ApiKeys>();
        // AddAuthenticationCore, not AddAuthentication: the latter brings Data Protection, whose
        // hosted service creates and writes a key ring (~/.aspnet/DataProtection-Keys) at start-up,
        // for cookies and tokens this scheme never issues.
        services.AddWebEncoders();
        services.AddAuthenticationCore(options => options.DefaultScheme = ApiKeyAuthenticationHandler.SchemeName);
        new AuthenticationBuilder(services)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, configureOptions: null);
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiKeyRoles.ReadPolicy, policy => policy
                .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser()
                .RequireRole(ApiKeyRoles.Read, ApiKeyRoles.Operate))
            .AddPolicy(ApiKeyRoles.OperatePolicy, policy => policy
                .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser()
                .RequireRole(ApiKeyRoles.Operate));
        services.AddSingleton<SubmitRateLimit>();
        services.AddSingleton<IConfigureOptions<RateLimiterOptions>>(provider => provider.GetRequiredService<SubmitRateLimit>());
        services.AddRateLimiter(_ => { });
        services.ConfigureSwaggerGen(SwaggerSecurity.Describe);
        return builder;
    }

    /// <summary>Refuses to start when the server would listen beyond loopback without keys, then
    /// adds the key gate and the rate limiter. Call it before mapping anything that needs a key
    /// (/orleans and /metrics are middleware: they must come after it).</summary>
    public static WebApplication UseSchedulerSecurity(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var keys = app.Services.GetRequiredService<ApiKeys>(); // A bad key list fails here, at start.
        var listen = ListenAddresses.From(app.Configuration);
        if (!keys.Enabled && !listen.LoopbackOnly)
        {
            throw new StartupRefusedException(
                $"Refusing to start: the server would listen on {string.Join(", ", listen.Exposed)}, beyond this machine, "
                + "and no API key is configured, so anyone who can reach it could submit, cancel and read tasks. "
                + "Either set API keys (environment API_KEYS=<key>:operate,<key>:read, or Api:Keys in appsettings.json), "
                + "or listen on loopback only (unset ASPNETCORE_URLS and --urls to get http://127.0.0.1:PORT, or bind http://127.0.0.1:<port>).");
        }

        var limit = app.Services.GetRequiredService<SubmitRateLimit>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SecurityExtensions).Namespace!);
        if (keys.Enabled)
        {
            LogKeys(logger, keys.Count, keys.Roles.Count(r => r == ApiKeyRoles.Operate), keys.Roles.Count(r => r == ApiKeyRoles.Read));
            foreach (var position in keys.ShortKeys)
            {
                LogShortKey(logger, position, ApiKeys.RecommendedMinimumLength);
            }
        }
        else
        {
            LogOpen(logger, string.Join(", ", listen.Urls));
        }

        if (limit.PerSecond > 0)
        {
            LogRateLimit(logger, limit.PerSecond);
        }

        app.UseMiddleware<ApiKeyGate>();
        app.UseRateLimiter();
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "API keys required: {Count} configured ({Operate} operate, {Read} read); open without a key: /health, /docs, the dashboard's static files")]
    private static partial void LogKeys(ILogger logger, int count, int operate, int read);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API key {Position} is shorter than {Length} characters; use a long random key (openssl rand -hex 32)")]
    private static partial void LogShortKey(ILogger logger, int position, int length);

    [LoggerMessage(Level = LogLevel.Information, Message = "No API keys configured: the API is open to callers on this machine ({Urls}); set API_KEYS to require keys")]
    private static partial void LogOpen(ILogger logger, string urls);

    [LoggerMessage(Level = LogLevel.Information, Message = "Submissions limited to {PerSecond} per second per API key (per client address without keys)")]
    private static partial void LogRateLimit(ILogger logger, int perSecond);
}
