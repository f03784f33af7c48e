using System.Globalization;
using System.Text;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>A strict reader of Prometheus' text exposition format (0.0.4): every line is a
/// <c># HELP</c>, a <c># TYPE</c>, another comment, or a sample <c>name{label="value",...} value
/// [timestamp]</c> with the grammar's names, escapes and numbers; each sample belongs to a family
/// whose TYPE came first; a histogram's buckets never decrease and its +Inf bucket equals its count.
/// Anything else throws, naming the line.</summary>
public sealed class PrometheusText
{
    private PrometheusText(List<Sample> samples, Dictionary<string, string> types)
    {
        Samples = samples;
        Types = types;
    }

    public IReadOnlyList<Sample> Samples { get; }

    /// <summary>Family name to type (counter, gauge, histogram, summary, untyped).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>The value of the sample named <paramref name="name"/> whose labels include
    /// <paramref name="labels"/>; null when there is none.</summary>
    public double? Value(string name, params (string Key, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value))
            .Select(s => (double?)s.Value).FirstOrDefault();

    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var samples = new List<Sample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                if (line.StartsWith('#'))
                {
                    Comment(line, types);
                }
                else
                {
                    var sample = ParseSample(line);
                    if (FamilyOf(sample.Name, types) is null)
                    {
                        throw new FormatException($"sample {sample.Name} has no # TYPE line before it");
                    }

                    samples.Add(sample);
                }
            }
            catch (FormatException ex)
            {
                throw new FormatException($"line {lineNumber}: {ex.Message}: {line}", ex);
            }
        }

        CheckHistograms(samples, types);
        return new PrometheusText(samples, types);
    }

    private static void Comment(string line, Dictionary<string, string> types)
    {
        var parts = line.Split(' ', 4);
        if (parts.Length >= 3 && parts[0] == "#" && parts[1] == "TYPE")
        {
            if (!IsMetricName(parts[2]) || parts.Length != 4 || parts[3] is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
            {
                throw new FormatException("malformed # TYPE line");
            }

            if (!types.TryAdd(parts[2], parts[3]))
            {
                throw new FormatException($"second # TYPE line for {parts[2]}");
            }
        }
        else if (parts.Length >= 3 && parts[0] == "#" && parts[1] == "HELP" && !IsMetricName(parts[2]))
        {
            throw new FormatException("malformed # HELP line");
        }
    }

    private static Sample ParseSample(string line)
    {
        var i = 0;
        while (i < line.Length && line[i] is not ('{' or ' '))
        {
            i++;
        }

        var name = line[..i];
        if (!IsMetricName(name))
        {
            throw new FormatException($"'{name}' is not a metric name");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var start = i;
                while (line[i] != '=')
                {
                    i++;
                }

                var label = line[start..i];
                if (!IsLabelName(label))
                {
                    throw new FormatException($"'{label}' is not a label name");
                }

                if (line[++i] != '"')
                {
                    throw new FormatException($"label {label}'s value is not quoted");
                }

                var value = new StringBuilder();
                for (i++; line[i] != '"'; i++)
                {
                    if (line[i] == '\\')
                    {
                        value.Append(line[++i] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            var c => throw new FormatException($"escape \\{c} in label {label}"),
                        });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }
                }

                if (!labels.TryAdd(label, value.ToString()))
                {
                    throw new FormatException($"label {label} twice");
                }

                i++;
                if (line[i] == ',')
                {
                    i++;
                }
                else if (line[i] != '}')
                {
                    throw new FormatException($"expected ',' or '}}' after label {label}");
                }
            }

            i++;
        }

        if (i >= line.Length || line[i] != ' ')
        {
            throw new FormatException("expected a space before the value");
        }

        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2 || !TryNumber(rest[0], out var number)
            || (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
        {
            throw new FormatException("the value (and optional timestamp) are not numbers");
        }

        return new Sample(name, labels, number);
    }

    private static bool TryNumber(string text, out double value)
    {
        switch (text)
        {
            case "+Inf":
                value = double.PositiveInfinity;
                return true;
            case "-Inf":
                value = double.NegativeInfinity;
                return true;
            case "NaN":
                value = double.NaN;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && !text.Contains("Infinity", StringComparison.Ordinal);
        }
    }

    private static string? FamilyOf(string name, Dictionary<string, string> types)
    {
        if (types.ContainsKey(name))
        {
            return name;
        }

        foreach (var suffix in new[] { "_bucket", "_sum", "_count", "_total", "_created" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && types.ContainsKey(name[..^suffix.Length]))
            {
                return name[..^suffix.Length];
            }
        }

        return null;
    }

    private static void CheckHistograms(List<Sample> samples, Dictionary<string, string> types)
    {
        foreach (var family in types.Where(t => t.Value == "histogram").Select(t => t.Key))
        {
            var series = samples.Where(s => s.Name == family + "_bucket")
                .GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")));
            foreach (var buckets in series)
            {
                var ordered = buckets.Select(b => (Le: TryNumber(b.Labels["le"], out var le) ? le : throw new FormatException($"{family}: le {b.Labels["le"]}"), b.Value))
                    .OrderBy(b => b.Le).ToList();
                for (var k = 1; k < ordered.Count; k++)
                {
                    if (ordered[k].Value < ordered[k - 1].Value)
                    {
                        throw new FormatException($"{family}{{{buckets.Key}}}: bucket le={ordered[k].Le} is below le={ordered[k - 1].Le}");
                    }
                }

                var count = samples.Single(s => s.Name == family + "_count"
                    && string.Join(",", s.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) == buckets.Key);
                if (!double.IsPositiveInfinity(ordered[^1].Le) || ordered[^1].Value != count.Value)
                {
                    throw new FormatException($"{family}{{{buckets.Key}}}: the +Inf bucket is not the count");
                }
            }
        }
    }

    private static bool IsMetricName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] is '_' or ':') && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    private static bool IsLabelName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
