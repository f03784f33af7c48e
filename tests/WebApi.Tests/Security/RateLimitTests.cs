using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OrleansScheduler.WebApi.Security;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Security;

/// <summary>Issue 10, point 6: submissions are limited per key with ASP.NET Core's rate limiter;
/// past the limit, 429 problem+json with Retry-After, and nothing stored.</summary>
public sealed class RateLimitTests(RateLimitTests.LimitedApp app) : IClassFixture<RateLimitTests.LimitedApp>
{
    private const string KeyA = "rate-a-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    private const string KeyB = "rate-b-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    private const string KeyC = "rate-c-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    private const string ReadKey = "rate-r-0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    /// <summary>Two submissions per second per key; the tests use different operate keys, so their
    /// buckets do not meet.</summary>
    public sealed class LimitedApp : SchedulerApp
    {
        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Api:KeyList"] = $"{KeyA}:operate,{KeyB}:operate,{KeyC}:operate,{ReadKey}:read",
            ["Api:SubmitsPerSecond"] = "2",
        };
    }

    [Fact]
    public async Task A_burst_past_the_limit_gets_429_with_Retry_After_and_stores_nothing_of_the_rejected()
    {
        var ids = Enumerable.Range(0, 30).Select(i => $"burst-{i}-{Guid.NewGuid():N}").ToList();
        using var client = Client(KeyA);
        var responses = await Task.WhenAll(ids.Select(id => client.PostAsync(new Uri("/api/tasks", UriKind.Relative), Json($$"""{"id":"{{id}}","type":"limited"}"""))));
        try
        {
            var accepted = ids.Where((_, i) => responses[i].StatusCode == HttpStatusCode.Created).ToList();
            var rejected = ids.Where((_, i) => responses[i].StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.Equal(ids.Count, accepted.Count + rejected.Count);
            Assert.NotEmpty(accepted);
            Assert.True(rejected.Count >= 20, $"{rejected.Count} of 30 were refused at 2 per second");

            var refusal = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
            var retryAfter = refusal.Headers.RetryAfter?.Delta;
            Assert.True(retryAfter is { TotalSeconds: >= 1 and <= 60 }, $"Retry-After: {refusal.Headers.RetryAfter}");
            var problem = await Problem.AssertAsync(refusal, HttpStatusCode.TooManyRequests, "submissions per second");
            Assert.Equal(2, (int)problem["limit_per_second"]!);

            using var reader = Client(ReadKey);
            using var api = new Api(reader);
            foreach (var id in accepted)
            {
                await api.GetTaskAsync(id);
            }

            foreach (var id in rejected)
            {
                using var response = await reader.GetAsync(new Uri($"/api/tasks/{id}", UriKind.Relative));
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{id} was refused with 429 but GET answered {(int)response.StatusCode}");
            }
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    /// <summary>The limit is per key: another key submits while the first is being refused, and a
    /// batch of many tasks costs one request. Reads are never limited.</summary>
    [Fact]
    public async Task The_limit_is_per_key_a_batch_counts_once_and_reads_are_free()
    {
        const string Batch = """[{"type":"limited"},{"type":"limited"},{"type":"limited"},{"type":"limited"},{"type":"limited"}]""";
        using var b = Client(KeyB);
        await Poll.UntilAsync(
            "key B's bucket is empty",
            async () =>
            {
                using var response = await b.PostAsync(new Uri("/tasks/batch", UriKind.Relative), Json(Batch));
                Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.TooManyRequests, $"{(int)response.StatusCode}");
                return response.StatusCode;
            },
            status => status == HttpStatusCode.TooManyRequests,
            status => status.ToString(),
            TimeSpan.FromSeconds(10));

        // Key C's bucket (its own) is untouched by B's: a batch of five is one request of C.
        using var other = Client(KeyC);
        using var batch = await other.PostAsync(new Uri("/api/tasks/batch", UriKind.Relative), Json(Batch));
        Assert.True(batch.StatusCode == HttpStatusCode.Created, $"{(int)batch.StatusCode}: {await batch.Content.ReadAsStringAsync()}");
        Assert.Equal(5, JsonNode.Parse(await batch.Content.ReadAsStringAsync())!.AsArray().Count);

        using var reader = Client(ReadKey);
        for (var i = 0; i < 20; i++)
        {
            using var read = await reader.GetAsync(new Uri("/api/stats", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
    }

    /// <summary>The default: off when listening on loopback only (every test host, every local run),
    /// 1,000 per second per key beyond loopback; RATE_LIMIT_SUBMITS_PER_SECOND sets it, 0 turns it
    /// off. Computed by the class the server uses.</summary>
    [Theory]
    [InlineData("http://127.0.0.1:8000", null, 0)]
    [InlineData("http://localhost:8000", null, 0)]
    [InlineData("http://0.0.0.0:8000", null, ApiKeyOptions.DefaultSubmitsPerSecond)]
    [InlineData("http://127.0.0.1:8000;http://[::]:8000", null, ApiKeyOptions.DefaultSubmitsPerSecond)]
    [InlineData("http://0.0.0.0:8000", 0, 0)]
    [InlineData("http://0.0.0.0:8000", 50, 50)]
    [InlineData("http://127.0.0.1:8000", 7, 7)]
    public void The_default_limit_depends_on_where_the_server_listens(string urls, int? configured, int expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["urls"] = urls }).Build();
        var limit = new SubmitRateLimit(Options.Create(new ApiKeyOptions { SubmitsPerSecond = configured }), configuration);
        Assert.Equal(expected, limit.PerSecond);
    }

    private HttpClient Client(string key)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
