using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 10: the shipped "http" handler calls payload.url for real (a Kestrel
/// target on 127.0.0.1; the scheduler's test server is in-memory, the handler's client is not).</summary>
public sealed class HttpHandlerTests
{
    [Fact]
    public async Task An_http_task_calls_its_url_completes_on_2xx_and_fails_on_500_after_its_attempts()
    {
        await using var target = await Target.StartAsync();
        await using var scheduler = LifecycleScheduler.Start();

        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "call-ok",
            ["type"] = "http",
            ["payload"] = new JsonObject { ["url"] = target.Url("/ok") },
        });
        var done = await scheduler.WaitForStatusAsync("call-ok", "COMPLETED");
        var result = done["result"]?.AsObject();
        Assert.True(result is not null, done.ToJsonString());
        Assert.Equal(200, (int)result!["status_code"]!);
        Assert.Equal("world", (string?)result["body"]?["hello"]);
        Assert.Equal(42, (int?)result["body"]?["answer"]);
        Assert.Equal(["call-ok"], target.TaskIds("/ok"));

        await scheduler.SubmitAsync(new JsonObject
        {
            ["id"] = "call-boom",
            ["type"] = "http",
            ["max_attempts"] = 2,
            ["retry_backoff_ms"] = 50,
            ["payload"] = new JsonObject { ["url"] = target.Url("/boom") },
        });
        var failed = await scheduler.WaitForStatusAsync("call-boom", "FAILED");
        Assert.Equal(2, (int)failed["attempts"]!);
        var error = (string)failed["error"]!;
        Assert.Contains("500", error, StringComparison.Ordinal);
        Assert.Contains("kaboom", error, StringComparison.Ordinal);
        Assert.Null(failed["result"]);
        Assert.Equal(["call-boom", "call-boom"], target.TaskIds("/boom"));
    }

    /// <summary>A tiny real HTTP server: GET /ok answers 200 with JSON, anything under /boom 500.</summary>
    private sealed class Target : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly string _baseUrl;
        private readonly ConcurrentQueue<(string Path, string TaskId)> _calls;

        private Target(WebApplication app, string baseUrl, ConcurrentQueue<(string, string)> calls)
        {
            _app = app;
            _baseUrl = baseUrl;
            _calls = calls;
        }

        public static async Task<Target> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            // Port 0: Kestrel picks a free port, read back below, so parallel tests never collide.
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var calls = new ConcurrentQueue<(string, string)>();
            app.MapGet("/ok", (HttpRequest request) =>
            {
                calls.Enqueue(("/ok", request.Headers["X-Task-Id"].ToString()));
                return Results.Json(new { hello = "world", answer = 42 });
            });
            app.MapGet("/boom", (HttpRequest request) =>
            {
                calls.Enqueue(("/boom", request.Headers["X-Task-Id"].ToString()));
                return Results.Text("kaboom", "text/plain", statusCode: StatusCodes.Status500InternalServerError);
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new Target(app, address.TrimEnd('/'), calls);
        }

        public string Url(string path) => _baseUrl + path;

        public IReadOnlyList<string> TaskIds(string path) => _calls.Where(c => c.Path == path).Select(c => c.TaskId).ToList();

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
