using System.Text.Json.Nodes;
using CsCheck;
using Fields = System.Collections.Generic.List<System.Collections.Generic.KeyValuePair<string, System.Text.Json.Nodes.JsonNode?>>;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>A change to a valid task that may make it invalid: a field removed, renamed, retyped,
/// pushed out of range, given text that is not text, nested deep, made huge.</summary>
public sealed record Mutation(string Name, Action<Fields> Apply)
{
    public override string ToString() => Name;

    private static readonly string[] NumericFields =
        ["duration_ms", "priority", "max_attempts", "timeout_ms", "timeout", "retry_backoff_ms", "retry_backoff_max_ms"];

    private static readonly Dictionary<string, string[]> OutOfRange = new()
    {
        ["duration_ms"] = ["-1", "86400001", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1e3", "5.0"],
        ["priority"] = ["0", "11", "-1", "2147483648", "-2147483649", "9223372036854775807", "10.0000001"],
        ["max_attempts"] = ["0", "101", "2147483648", "-9223372036854775808"],
        ["timeout_ms"] = ["0", "-5", "604800001", "9223372036854775807"],
        ["timeout"] = ["0", "-1", "604800.001", "1e-9", "1e308", "-0.0", "\"300\""],
        ["retry_backoff_ms"] = ["-1", "86400001", "9223372036854775807"],
        ["retry_backoff_max_ms"] = ["-1", "0", "86400001"],
        ["id"] = ["\"\"", "\"bad id\"", "\"a/b\"", "\"é\"", "\"..\"", "\"base-0\"", $"\"{new string('i', 129)}\"", $"\"{new string('i', 128)}\""],
        ["type"] = ["\"\"", "\"   \"", $"\"{new string('t', 201)}\"", $"\"{new string('t', 200)}\""],
        ["dependencies"] = ["[\"ghost-1\"]", "[\"base-0\", \"base-0\"]", "[[\"base-0\"]]", "[\"\"]", "[\"base-1\", null]", "[\"bad id\"]"],
        ["run_at"] =
        [
            "\"01/02/2030\"", "\"10:00\"", "\"2030-01-09 10:00:00\"", "\"0000-01-01T00:00:00Z\"", "\"0001-01-01T00:00:00+00:01\"",
            "\"9999-12-31T23:59:59-23:59\"", "\"9999-12-31T23:59:59.9999999Z\"", "\"2030-01-09T10:00:00.12345678901234567890Z\"",
            "\"2030-02-30T00:00:00Z\"", "\"2030-01-09T10:00:00+14:01\"", "\"1970-01-01T00:00:00Z\"", "\"0001-01-01T00:00:00Z\"",
        ],
    };

    private static readonly string[] Renames =
        ["colour", "Type", "ID", "dependency", "task_id", "name", "task_type", "timeout", "id", "type", "", "名前", "payload", "$type"];

    public static readonly Gen<Mutation> Any = Gen.Frequency(
        (3, Gen.Int[0, 99].Select(k => new Mutation($"remove field #{k}", f => At(f, k, i => f.RemoveAt(i))))),
        (2, Gen.Int[0, 99].Select(Gen.OneOf(Renames), (k, to) => new Mutation($"rename field #{k} to \"{to}\"", f => At(f, k, i => f[i] = KeyValuePair.Create(to, f[i].Value))))),
        (3, Gen.Int[0, 99].Select(JsonGen.Retyped, (k, value) => new Mutation($"retype field #{k} as {value?.ToJsonString() ?? "null"}", f => At(f, k, i => f[i] = KeyValuePair.Create(f[i].Key, value?.DeepClone()))))),
        (4, Gen.OneOf([.. OutOfRange.Keys]).SelectMany(field => Gen.OneOf(OutOfRange[field]).Select(raw => new Mutation($"set {field} to {Shorten(raw)}", f => Set(f, field, JsonNode.Parse(raw)))))),
        (1, Gen.OneOf(NumericFields).Select(Gen.Long, (field, n) => new Mutation($"set {field} to {n}", f => Set(f, field, JsonValue.Create(n))))),
        (3, Gen.Int[0, 99].Select(BadText.Gen, (k, bad) => new Mutation($"value of field #{k} becomes bad text {bad}", f => At(f, k, i => f[i] = KeyValuePair.Create(f[i].Key, (JsonNode?)JsonValue.Create(bad)))))),
        (2, Gen.Int[0, 99].Select(BadText.Gen, (k, bad) => new Mutation($"name of field #{k} becomes bad text {bad}", f => At(f, k, i => f[i] = KeyValuePair.Create(bad, f[i].Value))))),
        (2, BadText.Gen.Select(Gen.Int[0, 3], (bad, depth) => new Mutation($"payload holds bad text {bad} {depth} deep", f => Set(f, "payload", Bury(JsonValue.Create(bad), depth))))),
        (1, BadText.Gen.Select(bad => new Mutation($"a dependency is bad text {bad}", f => Set(f, "dependencies", new JsonArray(JsonValue.Create("base-0"), JsonValue.Create(bad)))))),
        (2, Gen.Int[20, 90].Select(Gen.Bool, (depth, objects) => new Mutation($"payload nested {depth} deep in {(objects ? "objects" : "arrays")}", f => Set(f, "payload", JsonGen.Nested(depth, objects))))),
        (1, Gen.Int[1_000, 300_000].Select(n => new Mutation($"payload an array of {n:N0} numbers", f => Set(f, "payload", new JsonArray([.. Enumerable.Range(0, n).Select(i => (JsonNode?)JsonValue.Create(i))]))))),
        (1, Gen.Int[2, 5_000].Select(n => new Mutation($"{n:N0} dependencies", f => Set(f, "dependencies", new JsonArray([.. Enumerable.Range(0, n).Select(i => (JsonNode?)JsonValue.Create(TaskGen.BaseId(i % TaskGen.BaseTasks)))]))))),
        (1, Gen.OneOf(Renames).Select(JsonGen.Value(2), (name, value) => new Mutation($"add field \"{name}\"", f => f.Add(KeyValuePair.Create(name, value))))),
        (1, Gen.Int[0, 99].Select(JsonGen.Retyped, (k, value) => new Mutation($"repeat field #{k} with another value", f => At(f, k, i => f.Add(KeyValuePair.Create(f[i].Key, value?.DeepClone())))))),
        (1, Gen.Int[50, 5_000].Select(n => new Mutation($"add {n:N0} unknown fields", f => f.AddRange(Enumerable.Range(0, n).Select(i => KeyValuePair.Create($"x{i}", (JsonNode?)JsonValue.Create(i))))))),
        (1, Gen.Const(new Mutation("remove every field", f => f.Clear()))));

    private static void At(Fields fields, int k, Action<int> apply)
    {
        if (fields.Count > 0)
        {
            apply(k % fields.Count);
        }
    }

    /// <summary>Replaces the field, or adds it.</summary>
    private static void Set(Fields fields, string name, JsonNode? value)
    {
        var i = fields.FindIndex(f => f.Key == name);
        if (i < 0)
        {
            fields.Add(KeyValuePair.Create(name, value));
        }
        else
        {
            fields[i] = KeyValuePair.Create(name, value);
        }
    }

    private static JsonNode Bury(JsonNode node, int depth)
    {
        for (var i = 0; i < depth; i++)
        {
            node = i % 2 == 0 ? new JsonObject { ["k"] = node } : new JsonArray(JsonValue.Create(1), node);
        }

        return node;
    }

    private static string Shorten(string raw) => raw.Length <= 40 ? raw : $"{raw[..30]}...({raw.Length} chars)";
}
