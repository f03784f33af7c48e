using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace OrleansScheduler.WebApi.Requests;

/// <summary>Finds text that System.Text.Json parses but cannot read as a .NET string: bytes that are
/// not UTF-8 (the reader checks them only when a string is read) and escapes of lone surrogates
/// ("\ud800"). Reading either throws InvalidOperationException, which was a 500 (issue 12), so a
/// request is checked with this before any of its strings is read, and such text is a 400 naming
/// where it is.</summary>
public static class JsonText
{
    /// <summary>The first string value or field name in <paramref name="element"/> that cannot be
    /// read, as the field that holds it and why; null when all of it reads.</summary>
    /// <param name="path">The element's own field path ("" for the body, "tasks[3]" for a batch's task).</param>
    public static (string Field, string Reason)? FindUnreadable(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Unreadable(JsonMarshal.GetRawUtf8Value(element), element.GetString) is { } reason
                    ? (Self(path), "is " + reason)
                    : null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (UnreadableName(property) is { } nameReason)
                    {
                        return (Self(path), "has a field name that is " + nameReason);
                    }

                    if (FindUnreadable(property.Value, Member(path, property.Name)) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindUnreadable(item, $"{Self(path)}[{i}]") is { } found)
                    {
                        return found;
                    }

                    i++;
                }

                return null;
            default:
                return null;
        }
    }

    /// <summary>Why a field's name cannot be read ("not valid UTF-8", ...), or null if it can.</summary>
    public static string? UnreadableName(JsonProperty property) =>
        Unreadable(JsonMarshal.GetRawUtf8PropertyName(property), () => property.Name);

    private static string Self(string path) => path.Length == 0 ? "body" : path;

    private static string Member(string path, string name) => path.Length == 0 ? name : path + "." + name;

    /// <summary>Why the raw (still escaped) text cannot be read, or null if it can.</summary>
    private static string? Unreadable(ReadOnlySpan<byte> raw, Func<string?> read)
    {
        if (!Utf8.IsValid(raw))
        {
            return "not valid UTF-8";
        }

        if (raw.IndexOf((byte)'\\') < 0)
        {
            return null;
        }

        try
        {
            read();
            return null;
        }
        catch (InvalidOperationException)
        {
            // The only escape that is well-formed JSON yet not text: a \uD800-\uDFFF without its pair.
            return "not valid Unicode (a \\u escape of an unpaired surrogate)";
        }
    }
}
