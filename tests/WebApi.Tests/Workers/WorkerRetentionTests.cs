using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Workers;

/// <summary>The WebApi with a retention short enough for a test: a worker dead for 2 s is forgotten.</summary>
public sealed class ForgetfulWorkerApp : WorkerApp
{
    protected override IReadOnlyDictionary<string, string> Engine => new Dictionary<string, string>
    {
        ["Workers:LeaseDuration"] = "00:00:01",
        ["Workers:DeadAfter"] = "00:00:01",
        ["Workers:ForgetAfter"] = "00:00:02",
    };
}

/// <summary>Workers:ForgetAfter: a worker that died without deregistering (SIGKILL, a lost machine)
/// does not stay listed, nor keep claiming its types, for ever; one that keeps heartbeating stays.</summary>
public sealed class WorkerRetentionTests(ForgetfulWorkerApp app) : IClassFixture<ForgetfulWorkerApp>
{
    private readonly Api _api = app.Api();

    [Fact]
    public async Task A_worker_dead_for_ForgetAfter_is_forgotten_and_one_that_heartbeats_is_kept()
    {
        await using var gone = new WorkerClient(_api, "gone-worker");
        await using var alive = new WorkerClient(_api, "alive-worker");
        await gone.RegisterAsync(["forget_type"], 2);
        await alive.RegisterAsync(["keep_type"], 2);
        alive.KeepAlive();

        // Silent from here on: DEAD after 1 s, forgotten 2 s later.
        var listed = await Poll.UntilAsync(
            "gone-worker has left GET /api/workers",
            () => _api.GetArrayAsync("/api/workers"),
            workers => workers.All(w => (string)w!["id"]! != "gone-worker"),
            workers => workers.ToJsonString(),
            TimeSpan.FromSeconds(30));
        var kept = Assert.Single(listed, w => (string)w!["id"]! == "alive-worker")!;
        Assert.Equal("ACTIVE", (string)kept["status"]!);

        using (var lookup = await _api.Http.GetAsync(new Uri("/api/workers/gone-worker", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
        }

        // Back, it is told it is unknown, and registers again.
        var (status, _) = await gone.HeartbeatAsync(new { status = "active" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        await gone.RegisterAsync(["forget_type"], 2);
        Assert.Equal("ACTIVE", (string)(await _api.GetAsync("/api/workers/gone-worker"))["status"]!);
    }
}
