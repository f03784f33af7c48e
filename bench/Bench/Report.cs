using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansScheduler.Bench;

/// <summary>One figure: what, how much, and the target of issue 5 it is held against.</summary>
public sealed record Metric(string Scenario, string Name, double Value, string Unit, string? Target, bool? Pass, string? Note);

public sealed record MachineInfo(int Cores, string Os, string Kernel, string Cpu, string DotNet, string Architecture, long MemoryMb);

/// <summary>Collects figures, prints them as a table and writes the same as JSON.</summary>
public sealed class Report(string[] args)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public List<Metric> Metrics { get; } = [];

    public Dictionary<string, double> ScenarioSeconds { get; } = [];

    /// <summary>Load average when each scenario ended.</summary>
    public Dictionary<string, string> ScenarioLoad { get; } = [];

    public MachineInfo Machine { get; } = DescribeMachine();

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>/proc/loadavg when the run started: other work on the machine shares the cores.</summary>
    public string LoadAtStart { get; } = LoadAverage();

    /// <summary>/proc/loadavg (1, 5, 15 min), or "unknown".</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>Figures one scenario leaves for another (the drain rate, for limit and peer).</summary>
    public Dictionary<string, double> Shared { get; } = [];

    public Metric Add(string scenario, string name, double value, string unit, string? target = null, bool? pass = null, string? note = null)
    {
        var metric = new Metric(scenario, name, value, unit, target, pass, note);
        Metrics.Add(metric);
        Console.WriteLine($"   {name,-34} {Format(value),14} {unit,-8} {(target is null ? "" : "target " + target + (pass is { } p ? p ? "  ok" : "  MISSED" : ""))}{(note is null ? "" : "  (" + note + ")")}");
        return metric;
    }

    /// <summary>A figure with a lower bound target.</summary>
    public Metric AtLeast(string scenario, string name, double value, string unit, double target) =>
        Add(scenario, name, value, unit, ">= " + Format(target), value >= target);

    /// <summary>A figure with an upper bound target.</summary>
    public Metric Below(string scenario, string name, double value, string unit, double target) =>
        Add(scenario, name, value, unit, "< " + Format(target), value < target);

    public void PrintTable(TextWriter output)
    {
        var rows = Metrics.Select(m => new[]
        {
            m.Scenario, m.Name, Format(m.Value), m.Unit, m.Target ?? "", m.Pass is { } p ? p ? "ok" : "MISSED" : "",
        }).ToList();
        string[] header = ["scenario", "figure", "value", "unit", "target", ""];
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        output.WriteLine($"Machine: {Machine.Cores} cores ({Machine.Cpu}), {Machine.MemoryMb} MB, {Machine.Os}, {Machine.DotNet}; load average at start {LoadAtStart}, at end {LoadAverage()}");
        output.WriteLine(Line(header, widths));
        output.WriteLine(string.Join("-+-", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
        {
            output.WriteLine(Line(row, widths));
        }
    }

    public string WriteJson()
    {
        var directory = Path.Combine(RepoRoot(), "bench", "results");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, StartedAt.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".json");
        var document = new
        {
            StartedAt,
            FinishedAt = DateTimeOffset.UtcNow,
            Args = args,
            Machine,
            LoadAtStart,
            LoadAtEnd = LoadAverage(),
            ScenarioLoad,
            ScenarioSeconds,
            Metrics,
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, Json));
        return path;
    }

    public static string Format(double value) =>
        double.IsNaN(value) ? "-"
        : Math.Abs(value) >= 100 || value == Math.Floor(value) ? value.ToString("N0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 10 ? value.ToString("N1", CultureInfo.InvariantCulture)
        : value.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>The checkout's root (where OrleansScheduler.sln is), from the working directory or the binary.</summary>
    public static string RepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrleansScheduler.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Directory.GetCurrentDirectory();
    }

    private static string Line(string[] cells, int[] widths) =>
        string.Join(" | ", cells.Select((c, i) => i == 2 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd();

    private static MachineInfo DescribeMachine()
    {
        var cpu = "unknown";
        long memoryMb = 0;
        var kernel = Environment.OSVersion.VersionString;
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
            var total = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal", StringComparison.Ordinal));
            memoryMb = long.Parse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException)
        {
            // Not Linux: leave the defaults.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return new MachineInfo(Environment.ProcessorCount, RuntimeInformation.OSDescription, kernel, cpu,
            RuntimeInformation.FrameworkDescription, RuntimeInformation.ProcessArchitecture.ToString(), memoryMb);
    }
}
