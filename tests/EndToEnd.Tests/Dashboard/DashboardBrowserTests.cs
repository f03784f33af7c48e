using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;
using Xunit.Sdk;
using static Microsoft.Playwright.Assertions;

namespace OrleansScheduler.EndToEnd.Tests.Dashboard;

/// <summary>The dashboard in a real browser against a real server: tasks are submitted over HTTP
/// and the page, refreshing on its own, must show them. Every wait is on a condition with a
/// timeout (Playwright's Expect); a failure says what the page showed and where its screenshot is.</summary>
[Collection(DashboardCollection.Name)]
public sealed partial class DashboardBrowserTests(DashboardServer app, ITestOutputHelper log)
{
    /// <summary>Long enough for a loaded two-core machine; the page polls every second.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Long enough that a task is surely still running when the test acts on it.</summary>
    private const int LongMs = 600_000;

    static DashboardBrowserTests() => SetDefaultExpectTimeout((float)Patience.TotalMilliseconds);

    [SkippableFact]
    public Task Counts_slots_and_rows_update_live_as_tasks_run_and_complete() => RunAsync(async page =>
    {
        await OpenAsync(page);
        var before = await CountAsync("COMPLETED");
        await Expect(Count(page, "COMPLETED")).ToHaveTextAsync(before.ToString(CultureInfo.InvariantCulture));

        var ids = Enumerable.Range(0, 5).Select(i => $"live-{i}").ToList();
        foreach (var id in ids)
        {
            await app.Api.SubmitAsync("/api/tasks", new { id, type = "dashboard_live", duration_ms = 2500 });
        }

        // Without a reload: the page shows them running, holding slots, then completed.
        await Expect(Count(page, "RUNNING")).ToHaveTextAsync(NonZero());
        await Expect(page.GetByTestId("slots")).ToHaveTextAsync(SlotsInUse());
        await Expect(page.GetByTestId("holders").Locator("a[data-task^='live-']").First).ToBeVisibleAsync();
        await Expect(Row(page, "live-0")).ToHaveAttributeAsync("data-status", "RUNNING");

        await Expect(Count(page, "COMPLETED")).ToHaveTextAsync((before + ids.Count).ToString(CultureInfo.InvariantCulture));
        foreach (var id in ids)
        {
            await Expect(Row(page, id)).ToHaveAttributeAsync("data-status", "COMPLETED");
        }

        await Expect(page.GetByTestId("metrics")).ToContainTextAsync("Completed, last minute");
        await Expect(page.GetByTestId("workers").Locator("tr[data-silo]").First).ToContainTextAsync("ACTIVE");
        await Expect(page.GetByTestId("connection")).ToHaveAttributeAsync("data-state", "live");
    });

    [SkippableFact]
    public Task An_external_worker_is_listed_beside_the_silos_with_its_capabilities_load_and_system_info() => RunAsync(async page =>
    {
        await app.Api.SubmitAsync("/api/workers/register", new { worker_id = "dash-worker", capabilities = new[] { "dash_render", "dash_index" }, max_concurrent_tasks = 4 });
        var (status, body) = await app.Api.TryPostAsync("/api/workers/dash-worker/heartbeat", new { status = "active", current_tasks = Array.Empty<string>(), system_info = new { cpu_usage = 41.6, memory_usage = 63.2, disk_usage = 22.9 } });
        Assert.True(status == 200, $"heartbeat answered {status}: {body}");
        await OpenAsync(page);

        var row = page.GetByTestId("workers").Locator("tr[data-worker='dash-worker']");
        await Expect(row).ToContainTextAsync("ACTIVE");
        await Expect(row.GetByTestId("capabilities")).ToHaveTextAsync("dash_render, dash_index");
        await Expect(row).ToContainTextAsync("0 / 4");
        await Expect(row.GetByTestId("system-info")).ToHaveTextAsync("42% · 63% · 23%");

        // A task it leases shows the worker in the task table.
        await app.Api.SubmitAsync("/api/tasks", new { id = "dash-leased", type = "dash_render" });
        var (leaseStatus, leased) = await app.Api.TryPostAsync("/api/workers/dash-worker/lease", new { max_tasks = 1, wait_ms = 5000 });
        Assert.True(leaseStatus == 200 && leased.Contains("dash-leased", StringComparison.Ordinal), $"lease answered {leaseStatus}: {leased}");
        await Expect(Row(page, "dash-leased").GetByTestId("task-worker")).ToHaveTextAsync("dash-worker");

        // Its slot goes back, and the worker leaves, so the other tests of this server are not held up.
        var token = (string)System.Text.Json.Nodes.JsonNode.Parse(leased)!["tasks"]![0]!["lease_token"]!;
        var (completeStatus, completed) = await app.Api.TryPostAsync("/api/workers/dash-worker/tasks/dash-leased/complete", new { lease_token = token });
        Assert.True(completeStatus == 200, $"complete answered {completeStatus}: {completed}");
        var (deregisterStatus, deregistered) = await app.Api.TryPostAsync("/api/workers/dash-worker/deregister", new { });
        Assert.True(deregisterStatus == 200, $"deregister answered {deregisterStatus}: {deregistered}");
        await Expect(page.GetByTestId("workers").Locator("tr[data-silo]").First).ToContainTextAsync("ACTIVE");
    });

    [SkippableFact]
    public Task A_failed_task_shows_its_error() => RunAsync(async page =>
    {
        await app.Api.SubmitAsync("/api/tasks", new { id = "fails-once", type = "dashboard_fail", max_attempts = 1, payload = new { simulate = new { fail_attempts = 5 } } });
        await OpenAsync(page);

        await Expect(Row(page, "fails-once")).ToHaveAttributeAsync("data-status", "FAILED");
        await Expect(Count(page, "FAILED")).ToHaveTextAsync(NonZero());
        await Row(page, "fails-once").ClickAsync();

        await Expect(page.GetByTestId("detail-id")).ToHaveTextAsync("fails-once");
        await Expect(Field(page, "status")).ToHaveTextAsync("FAILED");
        await Expect(page.GetByTestId("error")).ToContainTextAsync("simulated failure of attempt 1");
        await Expect(Field(page, "attempts")).ToHaveTextAsync("1 of 1");
        await Expect(page.GetByTestId("events").Locator("tr[data-to='FAILED']")).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("cancel")).ToBeDisabledAsync();
        await Expect(page.GetByTestId("retry")).ToBeEnabledAsync();
    });

    [SkippableFact]
    public Task A_task_detail_shows_its_events_and_what_blocks_it() => RunAsync(async page =>
    {
        await app.Api.SubmitAsync("/api/tasks", new { id = "dag-root", type = "dashboard_dag", duration_ms = LongMs });
        await app.Api.SubmitAsync("/api/tasks", new { id = "dag-child", type = "dashboard_dag", dependencies = new[] { "dag-root" }, payload = new { note = "waits" } });
        try
        {
            await OpenAsync(page, "dag-child");

            await Expect(page.GetByTestId("detail-id")).ToHaveTextAsync("dag-child");
            await Expect(Field(page, "status")).ToHaveTextAsync("WAITING");
            var blocked = page.GetByTestId("blocked-by");
            await Expect(blocked).ToHaveAttributeAsync("data-reason", "dependencies");
            await Expect(blocked).ToContainTextAsync("dag-root");
            await Expect(Field(page, "dependencies")).ToHaveTextAsync("dag-root");
            await Expect(page.GetByTestId("payload")).ToContainTextAsync("\"note\": \"waits\"");
            await Expect(page.GetByTestId("events").Locator("tr[data-to='WAITING']")).ToHaveCountAsync(1);

            // Following the dependency opens the root, which is running, with its events.
            await blocked.Locator("a[data-task='dag-root']").ClickAsync();
            await Expect(page.GetByTestId("detail-id")).ToHaveTextAsync("dag-root");
            await Expect(Field(page, "status")).ToHaveTextAsync("RUNNING");
            await Expect(page.GetByTestId("events").Locator("tr[data-to='RUNNING']")).ToHaveCountAsync(1);
            await Expect(page.GetByTestId("events").Locator("tr[data-to='QUEUED']")).ToHaveCountAsync(1);
            await Expect(page.GetByTestId("blocked-by")).ToHaveCountAsync(0);
        }
        finally
        {
            await app.Api.TryPostAsync("/api/tasks/dag-root/cancel", new { });
        }
    });

    [SkippableFact]
    public Task Cancel_on_the_dashboard_cancels_the_task() => RunAsync(async page =>
    {
        await app.Api.SubmitAsync("/api/tasks", new { id = "cancel-me", type = "dashboard_cancel", duration_ms = LongMs });
        await OpenAsync(page, "cancel-me");
        await Expect(Field(page, "status")).ToHaveTextAsync(new Regex("^(QUEUED|RUNNING)$"));

        await page.GetByTestId("cancel").ClickAsync();

        await Expect(page.GetByTestId("action-message")).ToContainTextAsync("CANCELLED");
        await Expect(Field(page, "status")).ToHaveTextAsync("CANCELLED");
        await Expect(Row(page, "cancel-me")).ToHaveAttributeAsync("data-status", "CANCELLED");
        await Expect(page.GetByTestId("cancel")).ToBeDisabledAsync();
        await Expect(page.GetByTestId("retry")).ToBeEnabledAsync();
        var task = await app.Api.GetAsync("/api/tasks/cancel-me");
        Assert.Equal("CANCELLED", (string?)task["status"]);
    });

    [SkippableFact]
    public Task A_refused_cancel_shows_the_problem_detail() => RunAsync(async page =>
    {
        await app.Api.SubmitAsync("/api/tasks", new { id = "cancel-twice", type = "dashboard_cancel", duration_ms = LongMs });
        await OpenAsync(page, "cancel-twice");
        await Expect(Field(page, "status")).ToHaveTextAsync(new Regex("^(QUEUED|RUNNING)$"));

        // Frozen, the page still offers Cancel for a task someone else has cancelled meanwhile.
        await page.GetByTestId("pause").ClickAsync();
        await Expect(page.GetByTestId("connection")).ToHaveAttributeAsync("data-state", "paused");
        var (status, body) = await app.Api.TryPostAsync("/api/tasks/cancel-twice/cancel", new { });
        Assert.True(status == 200, $"cancel over the API answered {status}: {body}");
        await page.GetByTestId("cancel").ClickAsync();

        var message = page.GetByTestId("action-message");
        await Expect(message).ToContainTextAsync("409");
        await Expect(message).ToHaveClassAsync(new Regex("error"));
        await Expect(Field(page, "status")).ToHaveTextAsync("CANCELLED");
        log.WriteLine($"the page said: {await message.TextContentAsync()}");
    });

    [SkippableFact]
    public Task The_status_filter_shows_only_matching_tasks() => RunAsync(async page =>
    {
        await app.Api.SubmitAsync("/api/tasks", new { id = "filter-done", type = "dashboard_filter" });
        await app.Api.SubmitAsync("/api/tasks", new { id = "filter-failed", type = "dashboard_filter", max_attempts = 1, payload = new { simulate = new { fail_attempts = 1 } } });
        await app.Api.SubmitAsync("/api/tasks", new { id = "filter-later", type = "dashboard_filter", run_at = DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture) });
        try
        {
            await OpenAsync(page);
            await Expect(Row(page, "filter-done")).ToHaveAttributeAsync("data-status", "COMPLETED");
            await Expect(Row(page, "filter-failed")).ToHaveAttributeAsync("data-status", "FAILED");
            await Expect(Row(page, "filter-later")).ToHaveAttributeAsync("data-status", "SCHEDULED");
            var rows = page.Locator("#tasks tbody tr");

            await page.GetByTestId("status-filter").SelectOptionAsync("FAILED");
            await Expect(rows.And(page.Locator(":not([data-status='FAILED'])"))).ToHaveCountAsync(0);
            await Expect(Row(page, "filter-failed")).ToBeVisibleAsync();
            await Expect(Row(page, "filter-done")).ToHaveCountAsync(0);

            await page.GetByTestId("status-filter").SelectOptionAsync("pending");
            await Expect(rows.And(page.Locator(":not([data-status='WAITING']):not([data-status='SCHEDULED']):not([data-status='QUEUED'])"))).ToHaveCountAsync(0);
            await Expect(Row(page, "filter-later")).ToBeVisibleAsync();
            await Expect(Row(page, "filter-failed")).ToHaveCountAsync(0);

            // A status card filters too.
            await Count(page, "COMPLETED").ClickAsync();
            await Expect(page.GetByTestId("status-filter")).ToHaveValueAsync("COMPLETED");
            await Expect(rows.And(page.Locator(":not([data-status='COMPLETED'])"))).ToHaveCountAsync(0);
            await Expect(Row(page, "filter-done")).ToBeVisibleAsync();
            await Expect(Row(page, "filter-later")).ToHaveCountAsync(0);

            await page.GetByTestId("status-filter").SelectOptionAsync("");
            await Expect(Row(page, "filter-later")).ToBeVisibleAsync();
            await Expect(Row(page, "filter-done")).ToBeVisibleAsync();
        }
        finally
        {
            await app.Api.TryPostAsync("/api/tasks/filter-later/cancel", new { });
        }
    });

    [SkippableFact]
    public Task Html_in_task_data_is_shown_as_text_not_run() => RunAsync(async page =>
    {
        // Ids are limited to letters, digits and -_.: by the API, so the markup goes where a
        // client may put any text: the type, the payload and the result. An unknown id from the URL
        // is shown too, in the 404 the API answers.
        const string type = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script><b>bold</b>";
        const string resultHtml = "<script>window.__pwned=3</script><img src=y onerror=\"window.__pwned=4\">";
        await app.Api.SubmitAsync("/api/tasks", new { id = "html-in-data", type, payload = new { simulate = new { result = new { html = resultHtml } } } });

        await OpenAsync(page, "html-in-data");
        await Expect(Field(page, "status")).ToHaveTextAsync("COMPLETED");
        await Expect(Field(page, "type")).ToHaveTextAsync(type);
        await Expect(Row(page, "html-in-data").Locator("td").Nth(1)).ToHaveTextAsync(type);
        await Expect(page.GetByTestId("result")).ToContainTextAsync("window.__pwned=3");
        await Expect(page.GetByTestId("payload")).ToContainTextAsync("<script>");

        const string hostileId = "<script>window.__pwned=5</script><img src=z onerror=\"window.__pwned=6\">";
        await page.GotoAsync(app.DashboardUrl + "#task=" + Uri.EscapeDataString(hostileId));
        await Expect(page.GetByTestId("detail-id")).ToHaveTextAsync(hostileId);
        await Expect(page.GetByTestId("detail-problem")).ToContainTextAsync("404");
        await Expect(page.GetByTestId("detail-problem")).ToContainTextAsync("<script>window.__pwned=5");
        await Expect(Row(page, "html-in-data").Locator("td").Nth(1)).ToHaveTextAsync(type);

        var injected = await page.EvaluateAsync<int>("() => document.querySelectorAll('main img, main script, main b').length");
        Assert.Equal(0, injected);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"), "a script from task data ran");
    });

    private static Regex NonZero() => new("^[1-9][0-9]*$");

    private static Regex SlotsInUse() => new("^[1-9][0-9]* / [1-9][0-9]* in use$");

    private static ILocator Count(IPage page, string status) => page.GetByTestId("count-" + status).Locator(".n");

    private static ILocator Row(IPage page, string id) => page.Locator($"#tasks tbody tr[data-id='{id}']");

    private static ILocator Field(IPage page, string name) => page.Locator($"#detail dd[data-field='{name}']");

    private async Task<long> CountAsync(string status) => (long)(await app.Api.GetAsync("/api/stats"))["counts"]![status]!;

    /// <summary>Opens the dashboard (on a task's detail when <paramref name="task"/> is given) and
    /// waits for its first refresh.</summary>
    private async Task OpenAsync(IPage page, string? task = null)
    {
        await page.GotoAsync(app.DashboardUrl + (task is null ? "" : "#task=" + Uri.EscapeDataString(task)));
        await Expect(page.GetByTestId("connection")).ToHaveAttributeAsync("data-state", "live");
    }

    /// <summary>Runs <paramref name="test"/> on a fresh page; on failure, or if the page threw or
    /// logged an error, fails with the page's text, a screenshot's path and the server's output.</summary>
    private async Task RunAsync(Func<IPage, Task> test, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        var problems = new ConcurrentQueue<string>();
        var page = await app.NewPageAsync(problems); // skips here when chromium is missing
        try
        {
            await test(page);
            Assert.True(problems.IsEmpty, "the page reported errors:\n" + string.Join("\n", problems));
        }
        catch (Exception ex) when (ex is not Xunit.SkipException)
        {
            throw new XunitException($"{ex.Message}\n{await DescribeAsync(page, name, problems)}\n{app.Server.Output(40)}");
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }

    private static async Task<string> DescribeAsync(IPage page, string name, ConcurrentQueue<string> problems)
    {
        var lines = new List<string> { $"--- the page ({page.Url}) ---" };
        try
        {
            Directory.CreateDirectory(DashboardServer.ScreenshotFolder);
            var path = Path.Combine(DashboardServer.ScreenshotFolder, $"{name}-{DateTime.UtcNow:HHmmss}.png");
            await page.ScreenshotAsync(new() { Path = path, FullPage = true });
            lines.Add($"screenshot: {path}");
            lines.Add(await page.InnerTextAsync("body"));
        }
        catch (PlaywrightException ex)
        {
            lines.Add($"(could not capture the page: {ex.Message})");
        }

        lines.AddRange(problems);
        return string.Join("\n", lines);
    }
}
