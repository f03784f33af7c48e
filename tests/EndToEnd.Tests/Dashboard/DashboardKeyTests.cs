using System.Collections.Concurrent;
using System.Net.Http.Json;
using Microsoft.Playwright;
using OrleansScheduler.EndToEnd.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;
using static Microsoft.Playwright.Assertions;

namespace OrleansScheduler.EndToEnd.Tests.Dashboard;

/// <summary>The dashboard against a server with API keys (issue 10): the page asks for a key on
/// the first 401, refuses a wrong one, keeps the right one in session storage (and in the cookie
/// only /orleans is sent), shows a read key's 403 on a mutation, and forgets the key on request.
/// Its own server process with keys; the shared one's browser.</summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardKeyTests(DashboardServer app, ITestOutputHelper log) : IDisposable
{
    private const string OperateKey = "operate-key-for-the-browser-test";
    private const string ReadKey = "read-key-for-the-browser-test-1";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "orleans-scheduler-dashboard", Guid.NewGuid().ToString("N"));
    private ServerProcess? _server;

    static DashboardKeyTests() => SetDefaultExpectTimeout((float)Patience.TotalMilliseconds);

    [SkippableFact]
    public async Task The_page_asks_for_a_key_keeps_it_for_the_session_and_shows_what_a_read_key_may_not_do()
    {
        var problems = new ConcurrentQueue<string>();
        var page = await app.NewPageAsync(problems); // skips here when chromium is missing
        Directory.CreateDirectory(_folder);
        _server = ServerProcess.WebApi("webapi-keys", _folder, Path.Combine(_folder, "scheduler.db"), ServerProcess.FreePort(), new Dictionary<string, string>
        {
            ["API_KEYS"] = $"{OperateKey}:operate,{ReadKey}:read",
        });
        _server.Start();
        using var http = new ApiClient(_server.BaseAddress, () => _server.Output());
        await http.WaitReadyAsync(_server, TimeSpan.FromSeconds(60));
        http.Http.DefaultRequestHeaders.Add("X-Api-Key", OperateKey);
        await http.SubmitAsync("/api/tasks", new { id = "keyed-long", type = "sim", duration_ms = 600_000 });

        try
        {
            await page.GotoAsync(new Uri(_server.BaseAddress, "/dashboard#task=keyed-long").ToString());

            // No key yet: the page asks for one and shows nothing else.
            await Expect(page.GetByTestId("key-form")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("connection")).ToHaveAttributeAsync("data-state", "locked");

            // A wrong key is refused, and the form says so.
            await page.GetByTestId("key-input").FillAsync("not-a-key-of-this-server");
            await page.GetByTestId("key-submit").ClickAsync();
            await Expect(page.GetByTestId("key-reason")).ToContainTextAsync("not accepted");
            await Expect(page.GetByTestId("key-form")).ToBeVisibleAsync();

            // The read key: the page comes alive and shows the task.
            await page.GetByTestId("key-input").FillAsync(ReadKey);
            await page.GetByTestId("key-submit").ClickAsync();
            await Expect(page.GetByTestId("key-form")).ToBeHiddenAsync();
            await Expect(page.GetByTestId("connection")).ToHaveAttributeAsync("data-state", "live");
            await Expect(page.GetByTestId("detail-id")).ToHaveTextAsync("keyed-long");
            Assert.Equal(ReadKey, await page.EvaluateAsync<string>("sessionStorage.getItem('orleans-scheduler.api-key')"));
            var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "scheduler_api_key");
            Assert.Equal("/orleans", cookie.Path);
            Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

            // A read key may not cancel: the 403 is shown, and the task runs on.
            await page.GetByTestId("cancel").ClickAsync();
            await Expect(page.GetByTestId("action-message")).ToContainTextAsync("403");
            Assert.Equal("RUNNING", (string?)(await http.GetAsync("/api/tasks/keyed-long"))["status"]);

            // The key lasts for the session: a reload does not ask again.
            await page.ReloadAsync();
            await Expect(page.GetByTestId("connection")).ToHaveAttributeAsync("data-state", "live");
            await Expect(page.GetByTestId("key-form")).ToBeHiddenAsync();

            // Forgotten: asked again, and the cookie is gone.
            await page.GetByTestId("forget-key").ClickAsync();
            await Expect(page.GetByTestId("key-form")).ToBeVisibleAsync();
            Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "scheduler_api_key");

            // The 401s and the 403 are the API answering, which the browser logs as failed loads
            // (filtered); anything else the page logged is a fault.
            Assert.True(problems.IsEmpty, "the page reported errors:\n" + string.Join("\n", problems));
        }
        catch (Exception ex) when (ex is not Xunit.SkipException)
        {
            log.WriteLine(await page.InnerTextAsync("body"));
            throw new XunitException($"{ex.Message}\n{_server.Output(40)}");
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }

    public void Dispose()
    {
        _server?.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS's temp cleanup (or never made: the test was skipped).
        }
    }
}
