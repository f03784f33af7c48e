using System.Diagnostics;

namespace OrleansScheduler.Bench;

/// <summary>--metrics on|off|both (issue 10): "on" is the product's default, the OpenTelemetry
/// MeterProvider with the Prometheus exporter collecting our meter and Orleans', and a scrape of its
/// /metrics every <see cref="ScrapeInterval"/> while the figures are taken; "off" is
/// Telemetry:Metrics:Enabled=false (no MeterProvider: no instrument is listened to). "both" runs a
/// scenario --metrics-pairs times off then on (2 by default: off, on, off, on) and reports each
/// mode's mean, on / off of the means, and the median of each pair's on / off (a pair's two runs
/// are next to each other in time, so the machine's drift between minutes weighs less on it).</summary>
public static class MetricsRun
{
    public static readonly TimeSpan ScrapeInterval = TimeSpan.FromSeconds(10);

    public static List<bool> Modes(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Text("metrics", "on") switch
        {
            "on" => [true],
            "off" => [false],
            "both" => Enumerable.Range(0, 2 * options.Int("metrics-pairs", 2)).Select(i => i % 2 == 1).ToList(),
            var other => throw new ArgumentException($"--metrics must be on, off or both, not '{other}'"),
        };
    }

    public static string Name(bool metrics) => metrics ? "metrics on" : "metrics off";

    /// <summary>The settings of a host in that mode (a silo's Prometheus listener on
    /// <paramref name="port"/> when on and given).</summary>
    public static Dictionary<string, string?> Settings(bool metrics, int? port = null)
    {
        var settings = new Dictionary<string, string?> { ["Telemetry:Metrics:Enabled"] = metrics ? "true" : "false" };
        if (metrics && port is { } p)
        {
            settings["Telemetry:Metrics:PrometheusPort"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return settings;
    }

    /// <summary>Reports each mode's mean of <paramref name="figures"/> and the ratio on / off.</summary>
    public static void ReportBoth(Report report, string scenario, string figure, string unit, IReadOnlyList<(bool Metrics, double Value)> figures, bool higherIsBetter = true)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(figures);
        double Mean(bool mode) => figures.Where(f => f.Metrics == mode).Average(f => f.Value);
        string Runs(bool mode) => string.Join(", ", figures.Where(f => f.Metrics == mode).Select(f => f.Value.ToString("N1", System.Globalization.CultureInfo.InvariantCulture)));
        var (off, on) = (Mean(false), Mean(true));
        report.Add(scenario, $"{figure}, metrics off", off, unit, note: $"runs {Runs(false)} (alternating with on)");
        report.Add(scenario, $"{figure}, metrics on", on, unit, note: $"runs {Runs(true)}; Prometheus exporter scraped every {ScrapeInterval.TotalSeconds:0} s");
        var ratio = on / off;
        var offs = figures.Where(f => !f.Metrics).Select(f => f.Value).ToList();
        var ons = figures.Where(f => f.Metrics).Select(f => f.Value).ToList();
        var pairs = offs.Zip(ons, (a, b) => b / a).Order().ToList();
        var median = pairs.Count % 2 == 1 ? pairs[pairs.Count / 2] : (pairs[pairs.Count / 2 - 1] + pairs[pairs.Count / 2]) / 2;
        bool Within(double r) => higherIsBetter ? r >= 0.9 : r <= 1.1;
        report.Add(scenario, $"{figure}, metrics on / off", ratio, "x", note: (Within(ratio) ? "within the 10 % target" : "MISSES the 10 % target") + " (of the means)");
        report.Add(scenario, $"{figure}, metrics on / off, median of pairs", median, "x",
            note: $"pairs {string.Join(", ", pairs.Select(p => p.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}; " + (Within(median) ? "within the 10 % target" : "MISSES the 10 % target"));
    }
}

/// <summary>Scrapes a /metrics URL every <see cref="MetricsRun.ScrapeInterval"/> (the first at once)
/// until disposed, as a Prometheus server would; counts the scrapes and fails loudly on a bad one.</summary>
public sealed class Scraper : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public Scraper(string url)
    {
        _loop = Task.Run(async () =>
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            while (!_stop.IsCancellationRequested)
            {
                var clock = Stopwatch.StartNew();
                using var response = await client.GetAsync(new Uri(url), CancellationToken.None);
                var body = await response.Content.ReadAsStringAsync(CancellationToken.None);
                // OpenTelemetry's target_info is there from the start; the meters once something was recorded.
                if (!response.IsSuccessStatusCode || !body.Contains("target_info", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"GET {url} answered {(int)response.StatusCode}, not OpenTelemetry's Prometheus text: {body[..Math.Min(body.Length, 300)]}");
                }

                Scrapes++;
                Bytes = body.Length;
                LastMs = clock.Elapsed.TotalMilliseconds;
                try
                {
                    await Task.Delay(MetricsRun.ScrapeInterval, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    public int Scrapes { get; private set; }

    public int Bytes { get; private set; }

    public double LastMs { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    public override string ToString() => $"{Scrapes} scrape(s) of {Bytes / 1024.0:F0} KB, the last in {LastMs:F0} ms";
}
