using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace OrleansScheduler.EndToEnd.Tests.Dashboard;

/// <summary>The dashboard's pictures (issue 10, points 7 and 8): the charts and a task's DAG graph,
/// drawn as inline SVG under the page's Content-Security-Policy, with data from tasks that ran.</summary>
public sealed partial class DashboardBrowserTests
{
    /// <summary>Records every Content-Security-Policy violation of the page in window.__csp (Chrome
    /// also logs them as console errors, which RunAsync fails on).</summary>
    private const string RecordCspViolations =
        "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));";

    [SkippableFact]
    public Task Charts_draw_throughput_queue_depth_and_run_times_from_tasks_that_ran() => RunAsync(async page =>
    {
        await page.AddInitScriptAsync(RecordCspViolations);
        await app.Api.SubmitBatchAsync(
        [
            new { id = "chart-1", type = "dashboard_chart", duration_ms = 300 },
            new { id = "chart-2", type = "dashboard_chart", duration_ms = 300 },
            new { id = "chart-3", type = "dashboard_chart", duration_ms = 50 },
            new { id = "chart-fails", type = "dashboard_chart", max_attempts = 1, payload = new { simulate = new { fail_attempts = 1 } } },
        ]);
        var later = DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture);
        await app.Api.SubmitBatchAsync([new { id = "chart-later-1", type = "dashboard_chart", run_at = later }, new { id = "chart-later-2", type = "dashboard_chart", run_at = later }]);
        try
        {
            await OpenAsync(page);
            await Expect(Row(page, "chart-2")).ToHaveAttributeAsync("data-status", "COMPLETED");
            await Expect(Row(page, "chart-fails")).ToHaveAttributeAsync("data-status", "FAILED");

            // Throughput: bars of completed and failed tasks per second, with values above zero.
            var throughput = page.GetByTestId("chart-throughput");
            await Expect(throughput.Locator("rect.bar[data-series='completed']").First).ToBeAttachedAsync();
            await Expect(throughput.Locator("rect.bar[data-series='failed']").First).ToBeAttachedAsync();
            await Expect(throughput).ToHaveAttributeAsync("data-completed", NonZero());
            Assert.True(await SumAsync(throughput.Locator("rect.bar[data-series='completed']"), "data-value") > 0, "no completed bar has a value");
            Assert.True(await FillOfAsync(throughput.Locator("rect.bar[data-series='completed']").First)
                != await FillOfAsync(throughput.Locator("rect.bar[data-series='failed']").First), "completed and failed bars have one colour");

            // Run times: bars with counts, the 300 ms runs among them.
            var runTimes = page.GetByTestId("chart-runtimes");
            await Expect(runTimes.Locator("rect.bar[data-from-ms='200'][data-to-ms='500']")).ToHaveAttributeAsync("data-count", new Regex("^[2-9]|^[1-9][0-9]+"));
            Assert.True(await SumAsync(runTimes.Locator("rect.bar"), "data-count") >= 3, "the histogram holds fewer than the 3 completions");
            await Expect(page.GetByTestId("runtimes-note")).ToContainTextAsync("latest completions");

            // Queue depth: a line per status; the sampler (every 5 s) sees the two scheduled tasks.
            var depth = page.GetByTestId("chart-depth");
            await Expect(depth.Locator("polyline.line")).ToHaveCountAsync(4);
            await Expect(depth.Locator("polyline[data-series='scheduled']")).ToHaveAttributeAsync("data-last", new Regex("^([2-9]|[1-9][0-9]+)$"));
            Assert.False(string.IsNullOrEmpty(await depth.Locator("polyline[data-series='scheduled']").GetAttributeAsync("points")));

            Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__csp.length"));
        }
        finally
        {
            await app.Api.TryPostAsync("/api/tasks/chart-later-1/cancel", new { });
            await app.Api.TryPostAsync("/api/tasks/chart-later-2/cancel", new { });
        }
    });

    [SkippableFact]
    public Task A_selected_task_shows_its_dag_with_live_status_colours_and_its_critical_path() => RunAsync(async page =>
    {
        await page.AddInitScriptAsync(RecordCspViolations);
        // dag-up-slow (400 ms) and dag-up-quick -> dag-mid -> dag-down-runs (runs until cancelled) -> dag-down-after,
        // and dag-mid -> dag-down-quick. The heaviest chain through dag-mid: up-slow, mid, down-runs, down-after.
        await app.Api.SubmitBatchAsync(
        [
            new { id = "dag-up-slow", type = "dashboard_graph", duration_ms = 400 },
            new { id = "dag-up-quick", type = "dashboard_graph" },
            new { id = "dag-mid", type = "dashboard_graph", dependencies = new[] { "dag-up-slow", "dag-up-quick" } },
            new { id = "dag-down-runs", type = "dashboard_graph", duration_ms = LongMs, dependencies = new[] { "dag-mid" } },
            new { id = "dag-down-quick", type = "dashboard_graph", dependencies = new[] { "dag-mid" } },
            new { id = "dag-down-after", type = "dashboard_graph", dependencies = new[] { "dag-down-runs" } },
        ]);
        try
        {
            await OpenAsync(page, "dag-mid");
            var graph = page.GetByTestId("graph-svg");
            await Expect(graph.Locator("g.node")).ToHaveCountAsync(6);
            await Expect(Node(page, "dag-down-runs")).ToHaveAttributeAsync("data-status", "RUNNING");
            await Expect(Node(page, "dag-up-slow")).ToHaveAttributeAsync("data-status", "COMPLETED");
            await Expect(Node(page, "dag-down-after")).ToHaveAttributeAsync("data-status", "WAITING");
            await Expect(Node(page, "dag-mid")).ToHaveAttributeAsync("data-selected", "true");
            await Expect(Node(page, "dag-up-slow")).ToHaveAttributeAsync("data-level", "-1");
            await Expect(Node(page, "dag-down-after")).ToHaveAttributeAsync("data-level", "2");

            // Status colours: each status its own fill, the same as its badge's.
            var completed = await FillOfAsync(Node(page, "dag-up-slow").Locator("rect"));
            var running = await FillOfAsync(Node(page, "dag-down-runs").Locator("rect"));
            var waiting = await FillOfAsync(Node(page, "dag-down-after").Locator("rect"));
            Assert.True(completed != running && running != waiting && completed != waiting, $"fills {completed}, {running}, {waiting}");
            Assert.Equal(await FillOfBadgeAsync(page, "COMPLETED"), completed);

            // The critical path: marked nodes and edges, thicker, and spelled out.
            foreach (var id in new[] { "dag-up-slow", "dag-mid", "dag-down-runs", "dag-down-after" })
            {
                await Expect(Node(page, id)).ToHaveAttributeAsync("data-critical", "true");
            }

            await Expect(Node(page, "dag-up-quick")).ToHaveAttributeAsync("data-critical", "false");
            await Expect(Node(page, "dag-down-quick")).ToHaveAttributeAsync("data-critical", "false");
            var criticalEdge = Edge(page, "dag-up-slow", "dag-mid");
            await Expect(criticalEdge).ToHaveAttributeAsync("data-critical", "true");
            await Expect(Edge(page, "dag-up-quick", "dag-mid")).ToHaveAttributeAsync("data-critical", "false");
            await Expect(graph.Locator("path.edge")).ToHaveCountAsync(5);
            Assert.True(await StrokeWidthAsync(criticalEdge) > await StrokeWidthAsync(Edge(page, "dag-up-quick", "dag-mid")), "the critical edge is not drawn thicker");
            await Expect(page.GetByTestId("critical-path")).ToContainTextAsync("dag-up-slow → dag-mid → dag-down-runs → dag-down-after");

            // Live: cancelling the running task recolours it, and its dependent, without a reload.
            var (status, body) = await app.Api.TryPostAsync("/api/tasks/dag-down-runs/cancel", new { });
            Assert.True(status == 200, $"cancel answered {status}: {body}");
            await Expect(Node(page, "dag-down-runs")).ToHaveAttributeAsync("data-status", "CANCELLED");
            await Expect(Node(page, "dag-down-after")).ToHaveAttributeAsync("data-status", "UPSTREAM_FAILED");

            // A node opens its own task, whose graph centres on it.
            await Node(page, "dag-up-slow").ClickAsync();
            await Expect(page.GetByTestId("detail-id")).ToHaveTextAsync("dag-up-slow");
            await Expect(Node(page, "dag-up-slow")).ToHaveAttributeAsync("data-selected", "true");
            await Expect(Node(page, "dag-mid")).ToHaveAttributeAsync("data-level", "1");

            Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__csp.length"));
        }
        finally
        {
            await app.Api.TryPostAsync("/api/tasks/dag-down-runs/cancel", new { });
        }
    });

    private static ILocator Node(IPage page, string id) => page.Locator($"[data-testid='graph-svg'] g.node[data-task='{id}']");

    private static ILocator Edge(IPage page, string from, string to) =>
        page.Locator($"[data-testid='graph-svg'] path.edge[data-from='{from}'][data-to='{to}']");

    private static Task<string> FillOfAsync(ILocator locator) => locator.EvaluateAsync<string>("e => getComputedStyle(e).fill");

    private static Task<string> FillOfBadgeAsync(IPage page, string status) =>
        page.EvaluateAsync<string>("s => getComputedStyle(document.querySelector(`.count[data-status='${s}']`)).borderLeftColor", status);

    private static async Task<double> StrokeWidthAsync(ILocator locator) =>
        double.Parse((await locator.EvaluateAsync<string>("e => getComputedStyle(e).strokeWidth")).Replace("px", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);

    private static async Task<double> SumAsync(ILocator locator, string attribute) =>
        (await locator.EvaluateAllAsync<string[]>($"els => els.map(e => e.getAttribute('{attribute}'))"))
            .Sum(v => double.Parse(v, CultureInfo.InvariantCulture));
}
