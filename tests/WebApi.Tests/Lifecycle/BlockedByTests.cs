using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 8: blocked_by says why a task that is not running is not running, both
/// machine-readable and as a sentence (run_at and backoff are covered in RunAtTests and
/// RetryBackoffTests).</summary>
public sealed class BlockedByTests
{
    [Fact]
    public async Task WAITING_names_the_unfinished_dependencies_QUEUED_names_the_slot_holders_and_running_or_terminal_tasks_have_none()
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 2, services: probe.Register);
        try
        {
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "done", ["type"] = "etl" });
            await scheduler.WaitForStatusAsync("done", "COMPLETED");
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "holder-1", ["type"] = GateHandler.Type });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "holder-2", ["type"] = GateHandler.Type });
            await scheduler.WaitForStatusAsync(["holder-1", "holder-2"], "RUNNING");
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "later", ["type"] = "etl", ["run_at"] = Rfc3339(NowMs().AddHours(1)) });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "ready", ["type"] = "etl" });
            await scheduler.SubmitAsync(new JsonObject
            {
                ["id"] = "waiting",
                ["type"] = "etl",
                ["dependencies"] = new JsonArray("holder-1", "later", "done"),
            });

            // WAITING: the dependencies that have not completed, with their status.
            var waiting = await scheduler.GetAsync("waiting");
            var seen = waiting.ToJsonString();
            Assert.Equal("WAITING", Status(waiting));
            var blockedBy = waiting["blocked_by"]?.AsObject();
            Assert.True(blockedBy is not null, seen);
            Assert.Equal("dependencies", (string)blockedBy!["reason"]!);
            var dependencies = blockedBy["dependencies"]!.AsArray()
                .Select(d => ((string)d!["id"]!, (string)d["status"]!))
                .OrderBy(d => d.Item1, StringComparer.Ordinal)
                .ToList();
            Assert.Equal([("holder-1", "RUNNING"), ("later", "SCHEDULED")], dependencies);
            var message = (string)blockedBy["message"]!;
            Assert.Contains("holder-1 (RUNNING)", message, StringComparison.Ordinal);
            Assert.Contains("later (SCHEDULED)", message, StringComparison.Ordinal);
            Assert.DoesNotContain("done", message, StringComparison.Ordinal);

            // QUEUED with every slot held: the holders.
            var ready = await scheduler.GetAsync("ready");
            seen = ready.ToJsonString();
            Assert.Equal("QUEUED", Status(ready));
            blockedBy = ready["blocked_by"]?.AsObject();
            Assert.True(blockedBy is not null, seen);
            Assert.Equal("slots", (string)blockedBy!["reason"]!);
            Assert.Equal(["holder-1", "holder-2"], blockedBy["slot_holders"]!.AsArray().Select(h => (string)h!).Order(StringComparer.Ordinal));
            message = (string)blockedBy["message"]!;
            Assert.Contains("2", message, StringComparison.Ordinal);
            Assert.Contains("holder-1", message, StringComparison.Ordinal);
            Assert.Contains("holder-2", message, StringComparison.Ordinal);

            // RUNNING and terminal tasks: none.
            var running = await scheduler.GetAsync("holder-1");
            Assert.Equal("RUNNING", Status(running));
            Assert.True(running["blocked_by"] is null, running.ToJsonString());
            var done = await scheduler.GetAsync("done");
            Assert.True(done["blocked_by"] is null, done.ToJsonString());

            // As dependencies finish, the list shrinks.
            probe.Of("holder-1").Release();
            await scheduler.WaitForStatusAsync("holder-1", "COMPLETED");
            waiting = await scheduler.GetAsync("waiting");
            Assert.Equal(["later"], waiting["blocked_by"]!["dependencies"]!.AsArray().Select(d => (string)d!["id"]!));

            await scheduler.WaitForStatusAsync("ready", "COMPLETED");
            var finished = await scheduler.GetAsync("ready");
            Assert.True(finished["blocked_by"] is null, finished.ToJsonString());

            await scheduler.ActAsync("later", "cancel");
            foreach (var id in new[] { "later", "waiting" })
            {
                var terminal = await scheduler.GetAsync(id);
                Assert.True(terminal["blocked_by"] is null, terminal.ToJsonString());
            }
        }
        finally
        {
            probe.ReleaseAll();
        }
    }
}
