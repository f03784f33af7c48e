using System.Collections.Concurrent;
using Microsoft.Playwright;
using OrleansScheduler.EndToEnd.Tests.Support;

namespace OrleansScheduler.EndToEnd.Tests.Dashboard;

/// <summary>The dashboard tests run one after another and alone: a browser beside the crash test's
/// server on a two-core machine would starve the timing windows that test relies on.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DashboardCollection : ICollectionFixture<DashboardServer>
{
    public const string Name = "Dashboard";
}

/// <summary>One real WebApi process (silo in-process, a fresh SQLite database in a temp folder, a
/// free TCP port) for the dashboard tests, and, started on first use, Playwright driving chromium.
/// Tests share the server, so each uses task ids of its own.</summary>
public sealed class DashboardServer : IAsyncLifetime
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    private readonly string _folder;
    private readonly SemaphoreSlim _browserLock = new(1, 1);
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public DashboardServer()
    {
        _folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-dashboard", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        Server = new ServerProcess(_folder, Path.Combine(_folder, "data", "scheduler.db"), ServerProcess.FreePort());
        Api = new ApiClient(Server.BaseAddress, () => Server.Output());
    }

    public ServerProcess Server { get; }

    public ApiClient Api { get; }

    /// <summary>Where failing tests leave their screenshots.</summary>
    public static string ScreenshotFolder => Path.Combine(Path.GetTempPath(), "orleans-scheduler-dashboard-screenshots");

    public string DashboardUrl => new Uri(Server.BaseAddress, "/dashboard").ToString();

    public async Task InitializeAsync()
    {
        Server.Start();
        await Api.WaitReadyAsync(Server, Startup);
    }

    /// <summary>A fresh browser context and page (1400x900); skips the test when chromium is missing
    /// (fails under CI). Console errors and uncaught page errors are collected in
    /// <paramref name="problems"/>.</summary>
    public async Task<IPage> NewPageAsync(ConcurrentQueue<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        Chromium.Require();
        var browser = await BrowserAsync();
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        page.PageError += (_, error) => problems.Enqueue($"page error: {error}");
        page.Console += (_, message) =>
        {
            // A 404 for a task that does not exist is the API answering, not the page failing.
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                problems.Enqueue($"console error: {message.Text}");
            }
        };
        return page;
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
        Api.Dispose();
        Server.Dispose();
        _browserLock.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS's temp cleanup.
        }
    }

    private async Task<IBrowser> BrowserAsync()
    {
        await _browserLock.WaitAsync();
        try
        {
            if (_browser is null)
            {
                _playwright = await Playwright.CreateAsync();
                _browser = await _playwright.Chromium.LaunchAsync(Chromium.LaunchOptions);
            }

            return _browser;
        }
        finally
        {
            _browserLock.Release();
        }
    }
}
