using System.Globalization;

namespace OrleansScheduler.Bench;

/// <summary>Scenario names and --flag value pairs. Every flag read is marked, so a mistyped flag is reported.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> _flags = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

    public List<string> Scenarios { get; } = [];

    /// <summary>True under `all`: scenarios take their quick sizes.</summary>
    public bool QuickDefaults { get; set; }

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var name = arg[2..];
                string value;
                var eq = name.IndexOf('=', StringComparison.Ordinal);
                if (eq >= 0)
                {
                    value = name[(eq + 1)..];
                    name = name[..eq];
                }
                else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    value = args[++i];
                }
                else
                {
                    value = "true";
                }

                options._flags[name] = value;
            }
            else
            {
                options.Scenarios.Add(arg.ToLowerInvariant());
            }
        }

        return options;
    }

    public int Int(string name, int fallback, int? quick = null, bool allowZero = false)
    {
        _used.Add(name);
        if (!_flags.TryGetValue(name, out var text))
        {
            return QuickDefaults && quick is { } q ? q : fallback;
        }

        return int.TryParse(text.Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal),
            NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && (value > 0 || (allowZero && value == 0))
            ? value
            : throw new ArgumentException($"--{name} must be a whole number above 0, not '{text}'");
    }

    public bool Flag(string name, bool fallback = false)
    {
        _used.Add(name);
        if (!_flags.TryGetValue(name, out var text))
        {
            return fallback;
        }

        return bool.TryParse(text, out var value) ? value : throw new ArgumentException($"--{name} must be true or false, not '{text}'");
    }

    public string Text(string name, string fallback)
    {
        _used.Add(name);
        return _flags.TryGetValue(name, out var text) ? text.ToLowerInvariant() : fallback;
    }

    /// <summary>Flags of the layer before Orleans, with why they are gone.</summary>
    private static readonly Dictionary<string, string> RetiredFlags = new(StringComparer.OrdinalIgnoreCase)
    {
        ["drain-capacity"] = "Silo:Capacity is gone: an Orleans silo's executor may run as many attempts as the cluster-wide limit (--drain-slots)",
        ["drain-claim-batch"] = "Silo:ClaimBatchSize is gone: the ConcurrencyGrain grants every free slot in one turn",
        ["cluster-claim-batch"] = "Silo:ClaimBatchSize is gone: the ConcurrencyGrain grants every free slot in one turn",
        ["submit-silo"] = "a pure front end exists only on PostgreSQL: on SQLite the WebApi co-hosts its silo; --submit-run false keeps it idle",
    };

    /// <summary>One message per retired flag given.</summary>
    public List<string> Retired() =>
        _flags.Keys.Where(RetiredFlags.ContainsKey).Select(f => $"--{f} no longer exists: {RetiredFlags[f]}").ToList();

    public void ThrowIfUnused()
    {
        var unused = _flags.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unused.Count > 0)
        {
            Console.WriteLine($"warning: flags not used by the scenarios run: {string.Join(", ", unused.Select(u => "--" + u))}");
        }
    }
}
