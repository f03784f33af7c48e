using System.Net;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Workers;

/// <summary>Routing of a type that no silo handles and no worker claims. With the default
/// (Workers:UnclaimedTypes = Simulate) the silos' simulator runs it, as the seeds' tasks expect;
/// with Wait it stays QUEUED, saying why, until a worker that lists it registers and leases it.</summary>
public sealed class UnclaimedTypeTests(WaitingWorkerApp app) : IClassFixture<WaitingWorkerApp>
{
    private readonly Api _api = app.Api();

    [Fact]
    public async Task With_Wait_a_type_nobody_can_run_stays_queued_naming_the_missing_capability_until_a_worker_takes_it()
    {
        await _api.SubmitAsync(new { id = "orphan-1", type = "orphan_type", duration_ms = 10 });

        // Not simulated: it stays QUEUED, blocked by the missing capability, for as long as we look.
        var queued = await Poll.UntilAsync(
            "orphan-1 says what blocks it",
            () => _api.GetTaskAsync("orphan-1"),
            t => t["blocked_by"] is not null,
            t => t.ToJsonString());
        Assert.Equal("QUEUED", (string)queued["status"]!);
        Assert.Equal("worker", (string)queued["blocked_by"]!["reason"]!);
        Assert.Equal("no worker with capability orphan_type", (string)queued["blocked_by"]!["message"]!);
        Assert.Equal(0, (int)queued["attempts"]!);

        await using var worker = new WorkerClient(_api, "orphan-adopter");
        await worker.RegisterAsync(["orphan_type"], 1);
        var (leased, _) = await worker.LeaseAsync(1, waitMs: 5_000);
        Assert.Equal("orphan-1", (string)Assert.Single(leased)["id"]!);
        Assert.Equal(HttpStatusCode.OK, (await worker.CompleteAsync("orphan-1", (string)leased[0]["lease_token"]!)).Status);
        Assert.Equal("COMPLETED", (string)(await _api.GetTaskAsync("orphan-1"))["status"]!);
    }
}
