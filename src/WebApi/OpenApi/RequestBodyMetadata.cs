namespace OrleansScheduler.WebApi.OpenApi;

/// <summary>Documents an endpoint's JSON body without <c>.Accepts&lt;T&gt;()</c>, whose content-type
/// matcher would answer a wrong Content-Type with a bare 415 before the endpoint could say which
/// field is wrong and why.</summary>
public sealed class RequestBodyMetadata(Type type)
{
    public Type Type { get; } = type;
}

public static class RequestBodyMetadataExtensions
{
    public static RouteHandlerBuilder DocumentsBody<T>(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new RequestBodyMetadata(typeof(T)));
}
