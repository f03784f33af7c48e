using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>JSON values and text for the generators, and the writer that turns a generated object
/// into bytes. A JSON object is a list of fields, not a JsonObject, so it may hold a name twice; a
/// string may be a <see cref="BadText"/> marker that the writer replaces with bytes that are not
/// UTF-8, or with an escape of a lone surrogate.</summary>
public static class JsonGen
{
    /// <summary>Pieces of text: plain, non-ASCII (two and three bytes, a surrogate pair), control
    /// characters, JSON's own metacharacters, a BOM, a line separator.</summary>
    private static readonly string[] Fragments =
    [
        "a", "Z", "0", "7", "-", "_", ".", ":", " ", "task", "é", "日本", "😀", "\"", "\\", "/", "\n", "\t",
        "\u0000", "\u001f", "\u007f", "\u2028", "\uFEFF", "<b>", "%", "'", "{", "]",
    ];

    public static readonly Gen<string> Text =
        Gen.OneOf(Fragments).List[0, 6].Select(parts => string.Concat(parts));

    /// <summary>Strings that are fine as JSON text yet not what a field wants, plus plain words.</summary>
    public static readonly Gen<string> AnyString = Gen.Frequency(
        (4, Text),
        (1, Gen.OneOf("", " ", "5", "true", "null", "[]", "{}", "2026-01-09T10:00:00Z", "-1", "NaN")),
        (1, Gen.Int[129, 3000].Select(n => new string('x', n))));

    private static readonly Gen<JsonNode?> Scalar = Gen.Frequency(
        (3, Text.Select(s => (JsonNode?)JsonValue.Create(s))),
        (2, Gen.Long[-1000, 1000].Select(n => (JsonNode?)JsonValue.Create(n))),
        (1, Gen.OneOf(Gen.Long, Gen.Long[long.MaxValue - 2, long.MaxValue]).Select(n => (JsonNode?)JsonValue.Create(n))),
        (1, Gen.Double[-1e6, 1e6].Select(d => (JsonNode?)JsonValue.Create(d))),
        (1, Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b))),
        (1, Gen.Const(() => (JsonNode?)null)));

    /// <summary>Any JSON value up to <paramref name="depth"/> levels of arrays and objects.</summary>
    public static Gen<JsonNode?> Value(int depth) => depth == 0
        ? Scalar
        : Gen.Frequency(
            (4, Scalar),
            (1, Value(depth - 1).List[0, 4].Select(items => (JsonNode?)new JsonArray([.. items]))),
            (1, Gen.Select(Gen.OneOf(Fragments).List[1, 3].Select(p => string.Concat(p)), Value(depth - 1)).List[0, 4]
                .Select(fields =>
                {
                    var obj = new JsonObject();
                    foreach (var (name, value) in fields)
                    {
                        obj[name] = value;
                    }

                    return (JsonNode?)obj;
                })));

    /// <summary>A value of a different JSON kind than a field wants: the "retyped" mutation.</summary>
    public static readonly Gen<JsonNode?> Retyped = Gen.OneOf(
        Gen.Const(() => (JsonNode?)null),
        Gen.Const(() => (JsonNode?)JsonValue.Create(true)),
        Gen.Const(() => (JsonNode?)JsonValue.Create("5")),
        Gen.Const(() => (JsonNode?)JsonValue.Create(1.5)),
        Gen.Const(() => (JsonNode?)JsonValue.Create(-0.0)),
        Gen.Const(() => (JsonNode?)new JsonArray()),
        Gen.Const(() => (JsonNode?)new JsonArray(JsonValue.Create("base-0"))),
        Gen.Const(() => (JsonNode?)new JsonObject()),
        Gen.Const(() => (JsonNode?)new JsonObject { ["id"] = "base-0" }),
        Gen.Const(() => (JsonNode?)JsonNode.Parse("1e400")),
        Gen.Const(() => (JsonNode?)JsonNode.Parse("-1e-400")),
        Gen.Const(() => (JsonNode?)JsonNode.Parse("123456789012345678901234567890")),
        Gen.Const(() => (JsonNode?)JsonNode.Parse("1E2")),
        AnyString.Select(s => (JsonNode?)JsonValue.Create(s)),
        BadText.Gen.Select(b => (JsonNode?)JsonValue.Create(b)));

    /// <summary>Arrays and objects nested <paramref name="depth"/> deep, around a string.</summary>
    public static JsonNode Nested(int depth, bool objects)
    {
        JsonNode node = JsonValue.Create("bottom");
        for (var i = 0; i < depth; i++)
        {
            node = objects ? new JsonObject { ["n"] = node } : new JsonArray(node);
        }

        return node;
    }

    public static readonly Gen<JavaScriptEncoder> Encoder =
        Gen.OneOf(JavaScriptEncoder.Default, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);

    /// <summary>Writes a JSON object given as fields (names may repeat), then puts the bad text in place
    /// of its markers.</summary>
    public static byte[] Write(IReadOnlyList<KeyValuePair<string, JsonNode?>> fields, JavaScriptEncoder encoder) =>
        Write(writer => WriteObject(writer, fields), encoder);

    public static byte[] Write(Action<Utf8JsonWriter> write, JavaScriptEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = encoder, SkipValidation = true }))
        {
            write(writer);
        }

        return BadText.Replace(buffer.ToArray());
    }

    public static void WriteObject(Utf8JsonWriter writer, IReadOnlyList<KeyValuePair<string, JsonNode?>> fields)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(fields);
        writer.WriteStartObject();
        foreach (var (name, value) in fields)
        {
            writer.WritePropertyName(name);
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                value.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }
}

/// <summary>Text that is well-formed JSON to a parser yet not text: bytes that are not UTF-8, and
/// \u escapes of unpaired surrogates. A generator puts a marker string where it wants one; the
/// writer replaces the marker with the raw bytes.</summary>
public static class BadText
{
    private static readonly byte[][] Sequences =
    [
        [0xFF],                         // never valid in UTF-8
        [0xC3],                         // a two-byte sequence cut short
        [0xC0, 0x80],                   // an overlong NUL
        [0xED, 0xA0, 0x80],             // a surrogate encoded in UTF-8 (CESU-8)
        [0xE2, 0x82],                   // a three-byte sequence cut short
        [0xF4, 0x90, 0x80, 0x80],       // past U+10FFFF
        [0x80],                         // a lone continuation byte
        .. new[] { "\\ud800", "\\udc00", "\\ud800\\u0041", "\\udbff\\udbff", "x\\uDFFF" }.Select(Encoding.ASCII.GetBytes),
    ];

    public static readonly Gen<string> Gen = CsCheck.Gen.Int[0, Sequences.Length - 1].Select(Marker);

    public static string Marker(int index) => $"~BAD{index:D2}~";

    public static byte[] Replace(byte[] json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var marker = "~BAD"u8;
        if (json.AsSpan().IndexOf(marker) < 0)
        {
            return json;
        }

        var output = new List<byte>(json.Length);
        for (var i = 0; i < json.Length; i++)
        {
            if (json.AsSpan(i).StartsWith(marker) && i + 7 <= json.Length && json[i + 6] == (byte)'~')
            {
                var index = (json[i + 4] - '0') * 10 + (json[i + 5] - '0');
                output.AddRange(Sequences[index]);
                i += 6;
            }
            else
            {
                output.Add(json[i]);
            }
        }

        return [.. output];
    }
}
