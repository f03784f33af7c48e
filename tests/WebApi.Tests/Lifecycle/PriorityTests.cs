using System.Text.Json.Nodes;
using static OrleansScheduler.WebApi.Tests.Lifecycle.LifecycleScheduler;

namespace OrleansScheduler.WebApi.Tests.Lifecycle;

/// <summary>Issue 4, point 4: among ready tasks the highest priority starts first, ties by age.</summary>
public sealed class PriorityTests
{
    [Fact]
    public async Task Ready_tasks_start_by_priority_then_age()
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 1, services: probe.Register);
        try
        {
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "blocker", ["type"] = GateHandler.Type });
            await scheduler.WaitForStatusAsync("blocker", "RUNNING");

            string[] submitted = ["p1", "p10-old", "p5", "p10-new"];
            int[] priorities = [1, 10, 5, 10];
            for (var i = 0; i < submitted.Length; i++)
            {
                await scheduler.SubmitAsync(new JsonObject
                {
                    ["id"] = submitted[i],
                    ["type"] = RecordingHandler.Type,
                    ["priority"] = priorities[i],
                });
            }

            foreach (var id in submitted)
            {
                var task = await scheduler.GetAsync(id);
                Assert.True(Status(task) == "QUEUED", $"{id} should wait for the slot: {task.ToJsonString()}");
            }

            Assert.Equal(5, (int)(await scheduler.GetAsync("blocker"))["priority"]!);

            probe.Of("blocker").Release();
            await scheduler.WaitForStatusAsync(submitted, "COMPLETED");

            Assert.Equal(["blocker", "p10-old", "p10-new", "p5", "p1"], probe.StartOrder);

            // The event history agrees.
            var startedAt = new Dictionary<string, DateTimeOffset>();
            foreach (var id in submitted)
            {
                var events = await scheduler.EventsAsync(id);
                startedAt[id] = Time(events.First(e => (string)e!["to"]! == "RUNNING")!["at"]);
            }

            Assert.True(startedAt["p10-old"] <= startedAt["p10-new"] && startedAt["p10-new"] <= startedAt["p5"] && startedAt["p5"] <= startedAt["p1"],
                string.Join(", ", startedAt.Select(s => $"{s.Key} {Rfc3339(s.Value)}")));
        }
        finally
        {
            probe.ReleaseAll();
        }
    }

    [Fact]
    public async Task Priority_defaults_to_5_and_is_sorted_among_explicit_ones()
    {
        var probe = new Probe();
        await using var scheduler = Start(slots: 1, services: probe.Register);
        try
        {
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "blocker", ["type"] = GateHandler.Type });
            await scheduler.WaitForStatusAsync("blocker", "RUNNING");

            await scheduler.SubmitAsync(new JsonObject { ["id"] = "p4", ["type"] = RecordingHandler.Type, ["priority"] = 4 });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "default", ["type"] = RecordingHandler.Type });
            await scheduler.SubmitAsync(new JsonObject { ["id"] = "p6", ["type"] = RecordingHandler.Type, ["priority"] = 6 });
            Assert.Equal(5, (int)(await scheduler.GetAsync("default"))["priority"]!);

            probe.ReleaseAll();
            await scheduler.WaitForStatusAsync(["p4", "default", "p6"], "COMPLETED");
            Assert.Equal(["blocker", "p6", "default", "p4"], probe.StartOrder);
        }
        finally
        {
            probe.ReleaseAll();
        }
    }
}
