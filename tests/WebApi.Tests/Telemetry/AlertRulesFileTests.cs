using System.Diagnostics;
using System.Text.RegularExpressions;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>docs/alerts.yml, the Prometheus twin of the product's alert rules: promtool accepts it
/// (and its unit tests, tests/WebApi.Tests/Telemetry/alerts.test.yml, pass), and every metric it
/// reads is in a real scrape of /metrics. promtool is Debian's `prometheus` package
/// (`. .ci/promtool.sh`); without it the promtool tests skip, saying why, except under CI=true,
/// where they fail.</summary>
[Collection(TelemetryCollection.Name)]
public sealed partial class AlertRulesFileTests(SchedulerApp app) : IClassFixture<SchedulerApp>
{
    [SkippableFact]
    public async Task Promtool_accepts_the_rules()
    {
        var (code, output) = await PromtoolAsync("check", "rules", RulesFile);
        Assert.True(code == 0, $"promtool check rules {RulesFile} exited {code}:\n{output}");
        Assert.Contains("SUCCESS: 5 rules found", output, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Promtool_unit_tests_of_the_rules_pass()
    {
        var tests = Path.Combine(RepositoryRoot, "tests", "WebApi.Tests", "Telemetry", "alerts.test.yml");
        var (code, output) = await PromtoolAsync("test", "rules", tests);
        Assert.True(code == 0, $"promtool test rules {tests} exited {code}:\n{output}");
    }

    [Fact]
    public async Task Every_metric_the_rules_read_is_in_a_real_scrape()
    {
        using var api = app.Api();
        // Counters and histograms appear once recorded: run a task that completes and one that fails.
        await api.SubmitAsync(new { id = "rules-ok", type = "rules" });
        await api.SubmitAsync(new { id = "rules-bad", type = "rules", max_attempts = 1, payload = new { simulate = new { fail_attempts = 1 } } });
        await api.WaitForStatusAsync(["rules-ok"], "COMPLETED");
        await api.WaitForStatusAsync(["rules-bad"], "FAILED");

        var expressions = string.Join("\n", File.ReadLines(RulesFile).Where(line => !line.TrimStart().StartsWith('#')));
        var referenced = MetricName().Matches(expressions).Select(m => m.Value).Distinct(StringComparer.Ordinal).ToList();
        Assert.True(referenced.Count >= 8, $"only {referenced.Count} metric names found in {RulesFile}: {string.Join(", ", referenced)}");
        var scrape = await Poll.UntilAsync("every metric of the rules is scraped",
            api.MetricsAsync,
            m => referenced.All(name => m.Samples.Any(s => s.Name == name)),
            m => "missing: " + string.Join(", ", referenced.Where(name => m.Samples.All(s => s.Name != name))));
        Assert.NotNull(scrape);
    }

    private static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrleansScheduler.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"No OrleansScheduler.sln above {AppContext.BaseDirectory}.");
        }
    }

    private static string RulesFile => Path.Combine(RepositoryRoot, "docs", "alerts.yml");

    private static async Task<(int Code, string Output)> PromtoolAsync(params string[] arguments)
    {
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        if (promtool is null)
        {
            const string why = "promtool is not installed: the alert rules' check needs Debian's prometheus package (`apt-get install -y prometheus`, or `. .ci/promtool.sh`)";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"{why}. Under CI it must run, not skip.");
            }

            Skip.If(true, why);
        }

        var start = new ProcessStartInfo(promtool!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Our metric names as the rules use them (series names, before any { or [).</summary>
    [GeneratedRegex(@"\bscheduler_[a-z_]+\b")]
    private static partial Regex MetricName();
}
