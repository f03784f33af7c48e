using Microsoft.Playwright;
using OrleansScheduler.EndToEnd.Tests.Cluster;

namespace OrleansScheduler.EndToEnd.Tests.Dashboard;

/// <summary>The browser the dashboard tests drive: Debian's chromium (`apt-get install -y
/// chromium`; .ci/chromium.sh installs it on CI) through Playwright's driver. Playwright's own
/// browser download is never used: it cannot reach the network here. Without the browser the tests
/// skip, saying why, except under CI (CI=true), where they fail, as the PostgreSQL tests do.</summary>
public static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static bool IsInstalled => File.Exists(ExecutablePath);

    /// <summary>Skips the calling test when chromium is missing, or fails it under CI.</summary>
    public static void Require()
    {
        if (IsInstalled)
        {
            return;
        }

        var why = $"{ExecutablePath} does not exist: the dashboard's browser tests need Debian's chromium (`apt-get install -y chromium`, or `. .ci/chromium.sh`)";
        if (TestPostgres.UnderCi)
        {
            throw new InvalidOperationException($"{why}. Under CI the browser tests must run, not skip.");
        }

        Skip.If(true, why);
    }

    public static BrowserTypeLaunchOptions LaunchOptions => new()
    {
        ExecutablePath = ExecutablePath,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
        Timeout = (float)TimeSpan.FromSeconds(60).TotalMilliseconds,
    };
}
