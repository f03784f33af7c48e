using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrleansScheduler.WebApi.Security;

/// <summary>Declares the two ways of sending a key in the OpenAPI document, so Swagger UI at /docs
/// offers "Authorize" and its "Try it out" works on a server with keys.</summary>
public static class SwaggerSecurity
{
    public static void Describe(SwaggerGenOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string Bearer = "Bearer";
        const string Header = "ApiKeyHeader";
        options.AddSecurityDefinition(Bearer, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key (API_KEYS) as Authorization: Bearer <key>. Needed only when keys are configured.",
        });
        options.AddSecurityDefinition(Header, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = ApiKeyAuthenticationHandler.HeaderName,
            Description = "The same key in the X-Api-Key header.",
        });
        options.AddSecurityRequirement(document => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, document)] = [] });
        options.AddSecurityRequirement(document => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Header, document)] = [] });
    }
}
