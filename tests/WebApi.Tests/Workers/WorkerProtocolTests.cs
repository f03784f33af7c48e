using System.Net;
using System.Text.Json.Nodes;
using OrleansScheduler.WebApi.Tests.Support;

namespace OrleansScheduler.WebApi.Tests.Workers;

/// <summary>The external workers' protocol (issue 11) over real HTTP against the real WebApi and its
/// silo, on SQLite and on PostgreSQL (the two subclasses): registration and its errors, routing by
/// capability, max_concurrent_tasks and the cluster-wide limit together, the long poll's wake-up,
/// stale lease tokens, deregistration, a dead worker's tasks going to another, and timeouts.
/// Each test uses its own worker ids and task types, and deregisters its workers at the end.</summary>
public abstract class WorkerProtocolTests(WorkerApp app)
{
    private Api? _client;

    /// <summary>Started on first use, after <see cref="RequireEngine"/>.</summary>
    private Api Client => _client ??= app.Api();

    /// <summary>Skips or fails a test that needs an engine the machine lacks.</summary>
    protected virtual void RequireEngine()
    {
    }

    [SkippableTheory]
    [InlineData("""{"capabilities": ["a"], "max_concurrent_tasks": 2}""", "worker_id")]
    [InlineData("""{"worker_id": "", "capabilities": ["a"]}""", "worker_id")]
    [InlineData("""{"worker_id": 12, "capabilities": ["a"]}""", "worker_id")]
    [InlineData("""{"worker_id": "bad-1"}""", "capabilities")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": []}""", "capabilities")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": "processing"}""", "capabilities")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": ["ok", 7]}""", "capabilities[1]")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": ["ok", " "]}""", "capabilities[1]")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": ["a"], "max_concurrent_tasks": 0}""", "max_concurrent_tasks")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": ["a"], "max_concurrent_tasks": 1001}""", "max_concurrent_tasks")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": ["a"], "max_concurrent_tasks": "5"}""", "max_concurrent_tasks")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": ["a"], "system_info": {"cpu_usage": 140}}""", "system_info.cpu_usage")]
    [InlineData("""{"worker_id": "bad-1", "capabilities": ["a"], "colour": "red"}""", "colour")]
    public async Task A_bad_registration_is_a_400_naming_the_field_and_registers_nothing(string body, string field)
    {
        RequireEngine();
        using var response = await Client.PostJsonAsync("/api/workers/register", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"answered {(int)response.StatusCode}: {text}");
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var errors = JsonNode.Parse(text)!["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(field), $"the problem names {string.Join(", ", errors.Select(e => e.Key))}, not {field}: {text}");

        using var lookup = await Client.Http.GetAsync(new Uri("/api/workers/bad-1", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [SkippableFact]
    public async Task Seed_004s_register_and_heartbeat_work_and_the_list_shows_the_worker_beside_the_silo()
    {
        RequireEngine();
        await using var worker = new WorkerClient(Client, "worker-123");
        var registered = await worker.RegisterAsync(["processing", "analysis"], 5);
        Assert.Equal("worker-123", (string)registered["worker_id"]!);
        Assert.Equal("external", (string)registered["kind"]!);
        Assert.Equal(5, (int)registered["capacity"]!);
        Assert.Equal(250, (long)registered["heartbeat_interval_ms"]!);
        Assert.Equal(3000, (long)registered["lease_duration_ms"]!);

        var (status, answer) = await worker.HeartbeatAsync(JsonNode.Parse("""
            {"status": "active", "current_tasks": ["task-1", "task-2"],
             "system_info": {"cpu_usage": 45.2, "memory_usage": 67.8, "disk_usage": 23.1}}
            """)!);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ACTIVE", (string)answer["status"]!);

        // It runs neither: both are to stop.
        Assert.Equal(["task-1", "task-2"], answer["stop"]!.AsArray().Select(s => (string)s!["task_id"]!).Order());

        var listed = await Client.GetArrayAsync("/api/workers");
        var external = listed.Single(w => (string)w!["id"]! == "worker-123")!;
        Assert.Equal("external", (string)external["kind"]!);
        Assert.Equal(["processing", "analysis"], external["capabilities"]!.AsArray().Select(c => (string)c!));
        Assert.Equal(45.2, (double)external["system_info"]!["cpu_usage"]!);
        Assert.Equal("active", (string)external["reported_status"]!);
        Assert.Contains(listed, w => (string)w!["kind"]! == "silo" && (string)w["status"]! == "ACTIVE");

        // Registering again updates it.
        await worker.RegisterAsync(["processing"], 7);
        var one = await Client.GetAsync("/api/workers/worker-123");
        Assert.Equal(7, (int)one["capacity"]!);
        Assert.Equal(["processing"], one["capabilities"]!.AsArray().Select(c => (string)c!));

        using var unknown = await Client.PostJsonAsync("/api/workers/nobody-here/heartbeat", "{}");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [SkippableFact]
    public async Task A_worker_leases_only_the_types_it_lists_and_a_claimed_type_is_never_simulated()
    {
        RequireEngine();
        await using var alpha = new WorkerClient(Client, "route-alpha");
        await using var beta = new WorkerClient(Client, "route-beta");
        await alpha.RegisterAsync(["route_alpha"], 10);
        await beta.RegisterAsync(["route_beta"], 10);
        alpha.KeepAlive();
        beta.KeepAlive();

        await Client.SubmitAsync(new { id = "route-a1", type = "route_alpha", payload = new { n = 1 }, timeout_ms = 60_000 });
        await Client.SubmitAsync(new { id = "route-b1", type = "route_beta" });

        // Claimed types wait for their workers: not simulated by the silo meanwhile.
        var waiting = await Client.GetTaskAsync("route-a1");
        Assert.Equal("QUEUED", (string)waiting["status"]!);
        Assert.Equal("worker", (string)waiting["blocked_by"]!["reason"]!);

        var (forAlpha, _) = await alpha.LeaseAsync(10, waitMs: 5_000);
        var task = Assert.Single(forAlpha);
        Assert.Equal("route-a1", (string)task["id"]!);
        Assert.Equal("route_alpha", (string)task["type"]!);
        Assert.Equal(1, (int)task["payload"]!["n"]!);
        Assert.Equal(1, (int)task["attempt"]!);
        Assert.Equal(60_000, (long)task["timeout_ms"]!);
        Assert.False(string.IsNullOrEmpty((string?)task["lease_token"]));

        var (forBeta, _) = await beta.LeaseAsync(10, waitMs: 5_000);
        Assert.Equal(["route-b1"], forBeta.Select(t => (string)t["id"]!));

        var running = await Client.GetTaskAsync("route-a1");
        Assert.Equal("RUNNING", (string)running["status"]!);
        Assert.Equal("route-alpha", (string)running["worker_id"]!);
        var listed = (await Client.ListAllAsync("/api/tasks?type=route_alpha&limit=10")).Single();
        Assert.Equal("route-alpha", (string?)listed["worker_id"]);

        Assert.Equal(HttpStatusCode.OK, (await alpha.CompleteAsync("route-a1", (string)task["lease_token"]!, new { rows = 3 })).Status);
        Assert.Equal(HttpStatusCode.OK, (await beta.CompleteAsync("route-b1", (string)forBeta[0]["lease_token"]!)).Status);
        var done = await Client.GetTaskAsync("route-a1");
        Assert.Equal("COMPLETED", (string)done["status"]!);
        Assert.Equal(3, (int)done["result"]!["rows"]!);
    }

    [SkippableFact]
    public async Task Max_concurrent_tasks_and_the_cluster_wide_limit_hold_together()
    {
        RequireEngine();
        await using var small = new WorkerClient(Client, "limit-small");
        await using var large = new WorkerClient(Client, "limit-large");
        await small.RegisterAsync(["limit_work"], 2);
        await large.RegisterAsync(["limit_work"], 10);
        small.KeepAlive();
        large.KeepAlive();
        var ids = Enumerable.Range(0, 6).Select(i => $"limit-{i}").ToList();
        foreach (var id in ids)
        {
            await Client.SubmitAsync(new { id, type = "limit_work" });
        }

        // The small worker gets its 2 of the 10 it asks for; the large one only what is left of
        // the cluster's 3 slots.
        var (first, _) = await small.LeaseAsync(10);
        Assert.Equal(2, first.Count);
        var (second, _) = await large.LeaseAsync(10);
        Assert.Single(second);
        var (none, _) = await small.LeaseAsync(10);
        Assert.Empty(none);
        var stats = await Client.GetStatsAsync();
        Assert.Equal(WorkerApp.Limit, (int)stats["slots"]!["in_use"]!);

        // A completion frees a slot, and the small worker (at its own limit) still gets nothing.
        Assert.Equal(HttpStatusCode.OK, (await large.CompleteAsync((string)second[0]["id"]!, (string)second[0]["lease_token"]!)).Status);
        var (stillNone, _) = await small.LeaseAsync(10);
        Assert.Empty(stillNone);
        var (more, _) = await large.LeaseAsync(10, waitMs: 5_000);
        Assert.Single(more);
        var running = await Client.ListAllAsync("/api/tasks?status=RUNNING&limit=100");
        Assert.Equal(WorkerApp.Limit, running.Count(t => ((string)t["id"]!).StartsWith("limit-", StringComparison.Ordinal)));
    }

    [SkippableFact]
    public async Task A_waiting_long_poll_is_answered_by_a_task_that_becomes_ready_and_an_idle_one_answers_empty()
    {
        RequireEngine();
        await using var worker = new WorkerClient(Client, "poll-worker");
        await worker.RegisterAsync(["poll_work"], 4);
        worker.KeepAlive();

        var (empty, tookEmpty) = await worker.LeaseAsync(4, waitMs: 300);
        Assert.Empty(empty);
        Assert.True(tookEmpty >= TimeSpan.FromMilliseconds(250), $"an empty poll answered after {tookEmpty.TotalMilliseconds:0} ms, before its wait_ms of 300");

        // A dependency chain: the task becomes ready when its upstream, leased by the same worker,
        // completes, while the worker's next poll waits.
        await Client.SubmitAsync(new { id = "poll-up", type = "poll_work" });
        await Client.SubmitAsync(new { id = "poll-down", type = "poll_work", dependencies = new[] { "poll-up" } });
        var (upstream, _) = await worker.LeaseAsync(4, waitMs: 5_000);
        Assert.Equal(["poll-up"], upstream.Select(t => (string)t["id"]!));
        var poll = worker.LeaseAsync(4, waitMs: 20_000);
        Assert.Equal(HttpStatusCode.OK, (await worker.CompleteAsync("poll-up", (string)upstream[0]["lease_token"]!)).Status);
        var (woken, _) = await poll;
        Assert.Equal(["poll-down"], woken.Select(t => (string)t["id"]!));
    }

    [SkippableFact]
    public async Task A_waiting_poll_of_a_worker_gone_silent_is_not_handed_tasks()
    {
        RequireEngine();
        await using var silent = new WorkerClient(Client, "quiet-poller");
        await silent.RegisterAsync(["quiet_work"], 4);
        var poll = silent.LeaseAsync(4, waitMs: 20_000);

        // No heartbeat: after two intervals (2 x 250 ms) the worker is UNHEALTHY, its poll still open.
        await Poll.UntilAsync(
            "quiet-poller is listed UNHEALTHY",
            () => Client.GetAsync("/api/workers/quiet-poller"),
            w => (string)w["status"]! == "UNHEALTHY",
            w => w.ToJsonString());
        await Client.SubmitAsync(new { id = "quiet-1", type = "quiet_work" });

        var (answered, _) = await poll;
        Assert.Empty(answered);
        Assert.Equal("QUEUED", (string)(await Client.GetTaskAsync("quiet-1"))["status"]!);
        Assert.Equal(0, (int)(await Client.GetTaskAsync("quiet-1"))["attempts"]!);

        // Heard from again (its next poll), it takes the task.
        var (next, _) = await silent.LeaseAsync(4, waitMs: 5_000);
        Assert.Equal(["quiet-1"], next.Select(t => (string)t["id"]!));
        Assert.Equal(HttpStatusCode.OK, (await silent.CompleteAsync("quiet-1", (string)next[0]["lease_token"]!)).Status);
    }

    [SkippableFact]
    public async Task A_report_with_a_stale_lease_token_is_a_409_and_changes_nothing()
    {
        RequireEngine();
        await using var worker = new WorkerClient(Client, "stale-worker");
        await worker.RegisterAsync(["stale_work"], 4);
        worker.KeepAlive();
        await Client.SubmitAsync(new { id = "stale-1", type = "stale_work" });
        await Client.SubmitAsync(new { id = "stale-2", type = "stale_work" });
        var (leased, _) = await worker.LeaseAsync(4, waitMs: 5_000);
        Assert.Equal(2, leased.Count);
        var token = leased.ToDictionary(t => (string)t["id"]!, t => (string)t["lease_token"]!);

        // A token that is not the live one.
        var (wrong, wrongBody) = await worker.CompleteAsync("stale-1", token["stale-2"]);
        Assert.True(wrong == HttpStatusCode.Conflict, $"answered {(int)wrong}: {wrongBody}");
        Assert.Equal("RUNNING", (string)(await Client.GetTaskAsync("stale-1"))["status"]!);

        // The same report twice: the second is stale.
        Assert.Equal(HttpStatusCode.OK, (await worker.CompleteAsync("stale-1", token["stale-1"], new { first = true })).Status);
        var (again, _) = await worker.CompleteAsync("stale-1", token["stale-1"], new { first = false });
        Assert.Equal(HttpStatusCode.Conflict, again);
        var (failLate, _) = await worker.FailAsync("stale-1", token["stale-1"], "too late");
        Assert.Equal(HttpStatusCode.Conflict, failLate);
        var completed = await Client.GetTaskAsync("stale-1");
        Assert.Equal("COMPLETED", (string)completed["status"]!);
        Assert.True((bool)completed["result"]!["first"]!);

        // A cancelled task's report is stale, and the next heartbeat tells the worker to stop it.
        using (var cancel = await Client.PostJsonAsync("/api/tasks/stale-2/cancel", "{}"))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        var (afterCancel, _) = await worker.CompleteAsync("stale-2", token["stale-2"]);
        Assert.Equal(HttpStatusCode.Conflict, afterCancel);
        Assert.Equal("CANCELLED", (string)(await Client.GetTaskAsync("stale-2"))["status"]!);
        await worker.StopHeartbeatsAsync();
        var (_, heartbeat) = await worker.HeartbeatAsync(new { current_tasks = new[] { "stale-2" } });
        var stop = Assert.Single(heartbeat["stop"]!.AsArray())!;
        Assert.Equal("stale-2", (string)stop["task_id"]!);
        Assert.Equal("cancelled", (string)stop["reason"]!);

        var (badToken, badBody) = await worker.CompleteAsync("stale-1", "not-a-token");
        Assert.True(badToken == HttpStatusCode.BadRequest, $"answered {(int)badToken}: {badBody}");
        Assert.True(badBody["errors"]!.AsObject().ContainsKey("lease_token"));
    }

    [SkippableFact]
    public async Task A_failure_goes_the_normal_way_retried_then_failed_and_its_dependents_upstream_failed()
    {
        RequireEngine();
        await using var worker = new WorkerClient(Client, "fail-worker");
        await worker.RegisterAsync(["fail_work"], 4);
        worker.KeepAlive();
        await Client.SubmitAsync(new { id = "fail-1", type = "fail_work", max_attempts = 2, retry_backoff_ms = 0 });
        await Client.SubmitAsync(new { id = "fail-1-child", type = "fail_work", dependencies = new[] { "fail-1" } });

        var (first, _) = await worker.LeaseAsync(1, waitMs: 5_000);
        var (status, body) = await worker.FailAsync("fail-1", (string)Assert.Single(first)["lease_token"]!, "exit code 3");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("QUEUED", (string)body["status"]!);

        var (second, _) = await worker.LeaseAsync(1, waitMs: 5_000);
        Assert.Equal(2, (int)Assert.Single(second)["attempt"]!);
        var (lastStatus, last) = await worker.FailAsync("fail-1", (string)second[0]["lease_token"]!, "exit code 3 again");
        Assert.Equal(HttpStatusCode.OK, lastStatus);
        Assert.Equal("FAILED", (string)last["status"]!);
        var failed = await Client.GetTaskAsync("fail-1");
        Assert.Equal("exit code 3 again", (string)failed["error"]!);
        Assert.Equal("UPSTREAM_FAILED", (string)(await Client.GetTaskAsync("fail-1-child"))["status"]!);
    }

    [SkippableFact]
    public async Task Deregistering_hands_the_running_tasks_back_without_counting_the_attempt()
    {
        RequireEngine();
        var leaving = new WorkerClient(Client, "leaving-worker");
        await leaving.RegisterAsync(["leave_work"], 4);
        await Client.SubmitAsync(new { id = "leave-1", type = "leave_work" });
        var (leased, _) = await leaving.LeaseAsync(4, waitMs: 5_000);
        Assert.Single(leased);

        var (status, body) = await leaving.DeregisterAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["leave-1"], body["handed_back"]!.AsArray().Select(t => (string)t!));
        var handedBack = await Client.GetTaskAsync("leave-1");
        Assert.Equal("QUEUED", (string)handedBack["status"]!);
        Assert.Equal(0, (int)handedBack["attempts"]!);
        Assert.DoesNotContain(await Client.GetArrayAsync("/api/workers"), w => (string)w!["id"]! == "leaving-worker");
        var (late, _) = await leaving.CompleteAsync("leave-1", (string)leased[0]["lease_token"]!);
        Assert.Equal(HttpStatusCode.NotFound, late);

        // Another worker runs it, as its first attempt.
        await using var staying = new WorkerClient(Client, "staying-worker");
        await staying.RegisterAsync(["leave_work"], 4);
        var (taken, _) = await staying.LeaseAsync(4, waitMs: 5_000);
        Assert.Equal(1, (int)Assert.Single(taken)["attempt"]!);
        Assert.Equal(HttpStatusCode.OK, (await staying.CompleteAsync("leave-1", (string)taken[0]["lease_token"]!)).Status);
    }

    [SkippableFact]
    public async Task A_silent_worker_is_declared_dead_its_task_runs_on_another_and_its_late_report_is_rejected()
    {
        RequireEngine();
        var silent = new WorkerClient(Client, "silent-worker");
        await silent.RegisterAsync(["dead_work"], 4);
        await Client.SubmitAsync(new { id = "dead-1", type = "dead_work" });
        var (leased, _) = await silent.LeaseAsync(4, waitMs: 5_000);
        Assert.Single(leased);

        // No heartbeat from here on: after Workers:DeadAfter (3 s) the attempt is lost and counted.
        var requeued = await Poll.UntilAsync(
            "dead-1 is QUEUED again after its worker went silent",
            () => Client.GetTaskAsync("dead-1"),
            t => (string)t["status"]! == "QUEUED",
            t => t.ToJsonString(),
            TimeSpan.FromSeconds(30));
        Assert.Equal(1, (int)requeued["attempts"]!);
        Assert.Contains("declared dead", (string)requeued["error"]!, StringComparison.Ordinal);
        var listed = await Client.GetAsync("/api/workers/silent-worker");
        Assert.Equal("DEAD", (string)listed["status"]!);

        await using var rescuer = new WorkerClient(Client, "rescuer-worker");
        await rescuer.RegisterAsync(["dead_work"], 4);
        var (taken, _) = await rescuer.LeaseAsync(4, waitMs: 5_000);
        Assert.Equal(2, (int)Assert.Single(taken)["attempt"]!);
        Assert.Equal(HttpStatusCode.OK, (await rescuer.CompleteAsync("dead-1", (string)taken[0]["lease_token"]!, new { by = "rescuer" })).Status);

        var (late, lateBody) = await silent.CompleteAsync("dead-1", (string)leased[0]["lease_token"]!, new { by = "silent" });
        Assert.True(late == HttpStatusCode.Conflict, $"the late report answered {(int)late}: {lateBody}");
        var done = await Client.GetTaskAsync("dead-1");
        Assert.Equal("rescuer", (string)done["result"]!["by"]!);
        var events = await Client.GetEventsAsync("dead-1");
        Assert.Single(events, e => (string)e!["to"]! == "COMPLETED");
        await silent.DisposeAsync();
    }

    [SkippableFact]
    public async Task A_worker_attempt_past_its_timeout_fails_and_the_worker_is_told_to_stop_it()
    {
        RequireEngine();
        await using var worker = new WorkerClient(Client, "slow-worker");
        await worker.RegisterAsync(["slow_work"], 4);
        worker.KeepAlive();
        await Client.SubmitAsync(new { id = "slow-1", type = "slow_work", timeout_ms = 300, max_attempts = 1 });
        var (leased, _) = await worker.LeaseAsync(4, waitMs: 5_000);
        Assert.Single(leased);

        var failed = await Poll.UntilAsync(
            "slow-1 FAILED by its timeout",
            () => Client.GetTaskAsync("slow-1"),
            t => (string)t["status"]! == "FAILED",
            t => t.ToJsonString(),
            TimeSpan.FromSeconds(30));
        Assert.Contains("timed out after 300 ms", (string)failed["error"]!, StringComparison.Ordinal);
        await worker.StopHeartbeatsAsync();
        var (_, heartbeat) = await worker.HeartbeatAsync(new { current_tasks = new[] { "slow-1" } });
        Assert.Equal("timed_out", (string)Assert.Single(heartbeat["stop"]!.AsArray())!["reason"]!);
        var (late, _) = await worker.CompleteAsync("slow-1", (string)leased[0]["lease_token"]!);
        Assert.Equal(HttpStatusCode.Conflict, late);
    }
}

public sealed class SqliteWorkerProtocolTests(WorkerApp app) : WorkerProtocolTests(app), IClassFixture<WorkerApp>;

public sealed class PostgresWorkerProtocolTests(PostgresWorkerApp app) : WorkerProtocolTests(app), IClassFixture<PostgresWorkerApp>
{
    protected override void RequireEngine() => app.Require();
}
