using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrleansScheduler.WebApi.OpenApi;

/// <summary>Writes the request body that <see cref="RequestBodyMetadata"/> names into the OpenAPI
/// document.</summary>
internal sealed class RequestBodyFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var body = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<RequestBodyMetadata>().FirstOrDefault();
        if (body is null)
        {
            return;
        }

        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new() { Schema = context.SchemaGenerator.GenerateSchema(body.Type, context.SchemaRepository) },
            },
        };
    }
}
