using System.Globalization;
using System.Text.Json.Nodes;
using CsCheck;
using Fields = System.Collections.Generic.List<System.Collections.Generic.KeyValuePair<string, System.Text.Json.Nodes.JsonNode?>>;

namespace OrleansScheduler.WebApi.Tests.Properties;

/// <summary>Task requests: valid ones, as the README describes them, then mutated at random.</summary>
public static class TaskGen
{
    /// <summary>Tasks the fixture submits first, so dependencies and duplicate ids can hit them.</summary>
    public const int BaseTasks = 8;

    public static string BaseId(int i) => $"base-{i}";

    /// <summary>A new id (letters and digits; one of 36^10) or, now and then, a base task's id (a 409).</summary>
    public static readonly Gen<string> Id = Gen.Frequency(
        (12, Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"].Array[10, 10].Select(c => "g-" + new string(c))),
        (1, Gen.Int[0, BaseTasks - 1].Select(BaseId)));

    private static readonly Gen<string> Type = Gen.Frequency(
        (3, Gen.OneOf("etl", "render", "send_email", "data_processing", "critical_analysis")),
        (1, JsonGen.Text.Where(t => t.Trim().Length > 0 && t != "http")));

    private static readonly Gen<string> RunAt = Gen.Select(Gen.Long[-86_400_000L * 400, 86_400_000L * 400], Gen.Int[0, 4], Gen.Int[-23 * 60, 23 * 60])
        .Select((offsetMs, form, offsetMinutes) =>
        {
            var time = DateTimeOffset.UtcNow.AddMilliseconds(offsetMs);
            var local = time.ToOffset(TimeSpan.FromMinutes(Math.Clamp(offsetMinutes, -14 * 60, 14 * 60)));
            return form switch
            {
                0 => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                1 => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture),   // seed 003: UTC
                2 => local.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture),
                3 => time.ToString("O", CultureInfo.InvariantCulture),
                _ => time.UtcDateTime.ToString("yyyy-MM-dd't'HH:mm:ss.FFFFFFF'z'", CultureInfo.InvariantCulture),
            };
        });

    /// <summary>A task as the README describes it; only type is required. Dependencies point at the
    /// base tasks or at <paramref name="siblings"/> (the other ids of a batch).</summary>
    public static Gen<Fields> Valid(IReadOnlyList<string> siblings)
    {
        var dependency = siblings.Count == 0
            ? Gen.Int[0, BaseTasks - 1].Select(BaseId)
            : Gen.Frequency((1, Gen.Int[0, BaseTasks - 1].Select(BaseId)), (2, Gen.OneOf([.. siblings])));
        var optional = new Gen<KeyValuePair<string, JsonNode?>?>[]
        {
            Field(Gen.Long[0, 50], "duration_ms"),
            Field(dependency.List[0, 3].Select(ids => new JsonArray([.. ids.Distinct().Select(i => (JsonNode?)JsonValue.Create(i))])), "dependencies"),
            Field(JsonGen.Value(3), "payload"),
            Field(Gen.Int[1, 10], "priority"),
            Field(RunAt, "run_at"),
            Field(Gen.Long[1, 7 * 86_400_000L], "timeout_ms"),
            Field(Gen.Double[0.001, 600], "timeout"),
            Field(Gen.Int[1, 100], "max_attempts"),
            Field(Gen.Long[0, 86_400_000L], "retry_backoff_ms"),
        };
        return Gen.Select(
            Gen.OneOf("id", "task_id").Select(Id, (name, id) => KeyValuePair.Create(name, (JsonNode?)JsonValue.Create(id))),
            Gen.OneOf("type", "task_type", "name").Select(Type, (name, type) => KeyValuePair.Create(name, (JsonNode?)JsonValue.Create(type))),
            All(optional),
            Gen.Int[0, 5])
            .Select((id, type, rest, withId) =>
            {
                var fields = new Fields();
                if (withId > 0)
                {
                    fields.Add(id);
                }

                fields.Add(type);
                foreach (var field in rest)
                {
                    if (field is { } present && !(present.Key == "timeout" && rest.Any(f => f?.Key == "timeout_ms")))
                    {
                        fields.Add(present);
                    }
                }

                return fields;
            });
    }

    /// <summary>One generator of a list out of one generator per item.</summary>
    public static Gen<List<T>> All<T>(IEnumerable<Gen<T>> gens) =>
        gens.Aggregate(Gen.Const(() => new List<T>()), (all, gen) => all.Select(gen, (list, item) =>
        {
            list.Add(item);
            return list;
        }));

    private static Gen<KeyValuePair<string, JsonNode?>?> Field<T>(Gen<T> value, string name) =>
        Gen.Frequency(
            (1, Gen.Const(() => (KeyValuePair<string, JsonNode?>?)null)),
            (1, value.Select(v => (KeyValuePair<string, JsonNode?>?)KeyValuePair.Create(name, v is JsonNode node ? node : JsonValue.Create(v)))));
}
