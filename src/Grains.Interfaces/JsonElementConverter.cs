using System.Text.Json;

namespace OrleansScheduler;

/// <summary>Payloads and results are arbitrary JSON (<see cref="JsonElement"/>), which Orleans has no
/// codec for: they cross grain calls as their text.</summary>
[RegisterConverter]
public sealed class JsonElementConverter : IConverter<JsonElement, JsonElementSurrogate>
{
    public JsonElement ConvertFromSurrogate(in JsonElementSurrogate surrogate)
    {
        using var document = JsonDocument.Parse(surrogate.Json);
        return document.RootElement.Clone();
    }

    public JsonElementSurrogate ConvertToSurrogate(in JsonElement value) => new(value.GetRawText());
}

[GenerateSerializer, Immutable]
public readonly record struct JsonElementSurrogate([property: Id(0)] string Json);
