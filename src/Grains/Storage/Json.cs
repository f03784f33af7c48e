using System.Text.Json;

namespace OrleansScheduler.Grains.Storage;

internal static class Json
{
    /// <summary>A stored payload or result (JSON text) as the API shows it.</summary>
    public static JsonElement? Parse(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
