using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Security;

/// <summary>Issue 10, points 6 and 8: with keys configured, every endpoint family answers 401
/// without a valid key, 403 to a read-only key on a mutation, and 2xx to the right key; the health
/// checks, /docs and the dashboard's static files stay open; keys are never logged.</summary>
public sealed class ApiKeyTests(KeyedSchedulerApp app) : IClassFixture<KeyedSchedulerApp>
{
    private const string Operate = KeyedSchedulerApp.OperateKey;
    private const string Read = KeyedSchedulerApp.ReadKey;
    private const string Wrong = KeyedSchedulerApp.WrongKey;

    /// <summary>Reads of every family: 401 without a key or with a wrong one, 200 with either key.</summary>
    [Theory]
    [InlineData("/api/tasks")]
    [InlineData("/tasks")]
    [InlineData("/api/tasks/{id}")]
    [InlineData("/tasks/{id}")]
    [InlineData("/api/tasks/{id}/events")]
    [InlineData("/api/stats")]
    [InlineData("/stats")]
    [InlineData("/api/workers")]
    public async Task Reads_need_a_key_and_either_role_may_read(string template)
    {
        var id = await SubmitAsync();
        var path = template.Replace("{id}", id, StringComparison.Ordinal);

        await AssertUnauthorizedAsync(HttpMethod.Get, path, key: null);
        await AssertUnauthorizedAsync(HttpMethod.Get, path, Wrong);
        foreach (var (key, bearer) in new[] { (Read, true), (Read, false), (Operate, true), (Operate, false) })
        {
            using var client = app.Client(key, bearer);
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} with the {(key == Read ? "read" : "operate")} key in {(bearer ? "Authorization" : "X-Api-Key")} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Every mutation: 401 without or with a wrong key, 403 with the read key (and nothing
    /// changed), 2xx with the operate key in either header.</summary>
    [Theory]
    [InlineData("/api/tasks", true)]
    [InlineData("/tasks", false)]
    [InlineData("/api/tasks/batch", true)]
    [InlineData("/tasks/batch", false)]
    [InlineData("/jobs?task_type=secured", true)]
    [InlineData("/jobs?task_type=secured", false)]
    public async Task Submissions_need_the_operate_key(string path, bool bearer)
    {
        var before = await TotalAsync();
        var batch = path.Contains("batch", StringComparison.Ordinal);
        string Body() => batch
            ? $$"""[{"id":"{{NewId()}}","type":"secured"},{"id":"{{NewId()}}","type":"secured"}]"""
            : $$"""{"id":"{{NewId()}}","type":"secured"}""";

        await AssertUnauthorizedAsync(HttpMethod.Post, path, key: null, Body());
        await AssertUnauthorizedAsync(HttpMethod.Post, path, Wrong, Body());
        await AssertForbiddenAsync(path, Body());
        Assert.Equal(before, await TotalAsync()); // 401 and 403 stored nothing.

        using var client = app.Client(Operate, bearer);
        using var response = await client.PostAsync(new Uri(path, UriKind.Relative), Json(Body()));
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path} with the operate key answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(before + (batch ? 2 : 1), await TotalAsync());
    }

    /// <summary>An external worker's calls (issue 11) are mutations: its process needs the operate key.</summary>
    [Fact]
    public async Task A_worker_needs_the_operate_key_to_register_heartbeat_lease_and_deregister()
    {
        var worker = NewId();
        var register = $$"""{"worker_id":"{{worker}}","capabilities":["secured_work"],"max_concurrent_tasks":2}""";
        await AssertUnauthorizedAsync(HttpMethod.Post, "/api/workers/register", key: null, register);
        await AssertUnauthorizedAsync(HttpMethod.Post, "/api/workers/register", Wrong, register);
        await AssertForbiddenAsync("/api/workers/register", register);

        using var client = app.Client(Operate, bearer: true);
        foreach (var (path, body, expected) in new[]
        {
            ("/api/workers/register", register, HttpStatusCode.Created),
            ($"/api/workers/{worker}/heartbeat", """{"status":"active"}""", HttpStatusCode.OK),
            ($"/api/workers/{worker}/lease", """{"max_tasks":1}""", HttpStatusCode.OK),
            ($"/api/workers/{worker}/deregister", "{}", HttpStatusCode.OK),
        })
        {
            if (path != "/api/workers/register")
            {
                await AssertUnauthorizedAsync(HttpMethod.Post, path, key: null, body);
                await AssertForbiddenAsync(path, body);
            }

            using var response = await client.PostAsync(new Uri(path, UriKind.Relative), Json(body));
            Assert.True(response.StatusCode == expected, $"POST {path} with the operate key answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Theory]
    [InlineData("/api/tasks")]
    [InlineData("/tasks")]
    public async Task Cancel_and_retry_need_the_operate_key(string prefix)
    {
        var id = await SubmitAsync(runAt: DateTimeOffset.UtcNow.AddHours(1));
        foreach (var action in new[] { "cancel", "retry" })
        {
            var path = $"{prefix}/{id}/{action}";
            await AssertUnauthorizedAsync(HttpMethod.Post, path, key: null);
            await AssertUnauthorizedAsync(HttpMethod.Post, path, Wrong);
            await AssertForbiddenAsync(path, body: null);
            using var client = app.Client(Operate);
            using var response = await client.PostAsync(new Uri(path, UriKind.Relative), content: null);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {path} with the operate key answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Any method other than GET, HEAD, OPTIONS or TRACE is a mutation, even where no
    /// endpoint takes it: the read key is refused before routing says 405.</summary>
    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    public async Task Other_mutating_methods_need_the_operate_key(string method)
    {
        await AssertUnauthorizedAsync(new HttpMethod(method), "/api/tasks/x", key: null);
        using var read = app.Client(Read);
        using var forbidden = await read.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/api/tasks/x"));
        await Problem.AssertAsync(forbidden, HttpStatusCode.Forbidden, "operate");
        using var operate = app.Client(Operate);
        using var allowed = await operate.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/api/tasks/x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, allowed.StatusCode);
    }

    /// <summary>Paths added by the other parts of issue 10 (/metrics, /orleans, /api/alerts) and
    /// any path not known today are closed by the same rule. On this branch they do not exist yet,
    /// so only the 401 is asserted; the lead's merge must keep these cases passing (a 2xx with a
    /// key belongs in their own tests).</summary>
    [Theory]
    [InlineData("/metrics")]
    [InlineData("/orleans")]
    [InlineData("/orleans/")]
    [InlineData("/orleans/ClusterStats")]
    [InlineData("/api/alerts")]
    [InlineData("/dashboard/data")]
    [InlineData("/dashboard/api/stats")]
    [InlineData("/no-such-path")]
    public async Task Paths_of_other_parts_and_unknown_paths_need_a_key(string path)
    {
        await AssertUnauthorizedAsync(HttpMethod.Get, path, key: null);
        await AssertUnauthorizedAsync(HttpMethod.Get, path, Wrong);
        await AssertUnauthorizedAsync(HttpMethod.Post, path, key: null);
        await AssertForbiddenAsync(path, body: "{}");
    }

    /// <summary>The probes, Swagger and the dashboard's own files (code, no data) answer without a
    /// key, and a wrong key does not turn them into a 401.</summary>
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/docs")]
    [InlineData("/docs/v1/swagger.json")]
    [InlineData("/dashboard")]
    [InlineData("/dashboard/")]
    [InlineData("/dashboard/index.html")]
    [InlineData("/dashboard/dashboard.js")]
    [InlineData("/dashboard/dashboard.css")]
    [InlineData("/dashboard/favicon.svg")]
    public async Task Health_docs_and_the_dashboard_files_stay_open(string path)
    {
        foreach (var key in new[] { null, Wrong })
        {
            using var client = app.Client(key);
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} {(key is null ? "without a key" : "with a wrong key")} answered {(int)response.StatusCode}");
        }
    }

    /// <summary>Swagger UI can send a key: the document declares both headers as security schemes
    /// and requires one of them.</summary>
    [Fact]
    public async Task The_openapi_document_declares_both_ways_of_sending_a_key()
    {
        using var client = app.Client(key: null);
        var document = JsonNode.Parse(await client.GetStringAsync(new Uri("/docs/v1/swagger.json", UriKind.Relative)))!;
        var schemes = document["components"]!["securitySchemes"]!;
        Assert.Equal("bearer", (string?)schemes["Bearer"]!["scheme"]);
        Assert.Equal("X-Api-Key", (string?)schemes["ApiKeyHeader"]!["name"]);
        Assert.Equal("header", (string?)schemes["ApiKeyHeader"]!["in"]);
        var required = document["security"]!.AsArray().SelectMany(r => r!.AsObject().Select(p => p.Key)).ToList();
        Assert.Equal(["Bearer", "ApiKeyHeader"], required);
    }

    /// <summary>The scheduler_api_key cookie stands for a key on reads under /orleans only (the
    /// Orleans dashboard cannot send our header): elsewhere, and for mutations, it is ignored.</summary>
    [Fact]
    public async Task The_cookie_counts_for_reads_under_orleans_only()
    {
        async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, string cookie)
        {
            using var client = app.Client(key: null);
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Add("Cookie", $"scheduler_api_key={Uri.EscapeDataString(cookie)}");
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        // A key the cookie carries gets past the gate to the Orleans dashboard (its page and its
        // data); a wrong one is stopped with 401.
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "/orleans/", Read));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "/orleans/DashboardCounters", Operate));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, "/orleans", Wrong));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Post, "/orleans/ClusterStats", Operate));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, "/api/stats", Operate));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, "/orleansx", Operate));
    }

    [Fact]
    public async Task Keys_never_appear_in_the_logs()
    {
        var id = await SubmitAsync();
        foreach (var key in new[] { Operate, Read, Wrong })
        {
            foreach (var bearer in new[] { true, false })
            {
                using var client = app.Client(key, bearer);
                (await client.GetAsync(new Uri($"/api/tasks/{id}", UriKind.Relative))).Dispose();
                (await client.PostAsync(new Uri("/api/tasks", UriKind.Relative), Json($$"""{"id":"{{NewId()}}","type":"secured"}"""))).Dispose();
            }

            using var cookie = app.Client(key: null);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/orleans");
            request.Headers.Add("Cookie", $"scheduler_api_key={key}");
            (await cookie.SendAsync(request)).Dispose();
        }

        var entries = app.AllLogs.Entries;
        // The recorder sees the requests (so it would see a key if one were logged).
        Assert.Contains(entries, e => e.Contains("/api/tasks", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.Contains("API keys required: 2 configured", StringComparison.Ordinal));
        foreach (var key in new[] { Operate, Read, Wrong })
        {
            var leaks = entries.Where(e => e.Contains(key, StringComparison.Ordinal)).ToList();
            Assert.True(leaks.Count == 0, $"a key was logged:\n{string.Join("\n", leaks.Take(5))}");
        }
    }

    private async Task AssertUnauthorizedAsync(HttpMethod method, string path, string? key, string? body = null)
    {
        using var client = app.Client(key);
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Json(body) };
        using var response = await client.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "X-Api-Key");
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer", challenge, StringComparison.Ordinal);
        Assert.Equal(key is not null, challenge.Contains("invalid_token", StringComparison.Ordinal));
    }

    private async Task AssertForbiddenAsync(string path, string? body)
    {
        using var client = app.Client(Read, bearer: false);
        using var response = await client.PostAsync(new Uri(path, UriKind.Relative), body is null ? null : Json(body));
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "operate");
    }

    private async Task<string> SubmitAsync(DateTimeOffset? runAt = null)
    {
        var id = NewId();
        var body = new JsonObject { ["id"] = id, ["type"] = "secured" };
        if (runAt is { } at)
        {
            body["run_at"] = at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        }

        using var client = app.Client(Operate);
        using var response = await client.PostAsync(new Uri("/api/tasks", UriKind.Relative), Json(body.ToJsonString()));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return id;
    }

    private async Task<long> TotalAsync()
    {
        using var api = new Api(app.Client(Read));
        return await api.TotalAsync();
    }

    private static string NewId() => "sec-" + Guid.NewGuid().ToString("N");

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
