using OrleansScheduler.WebApi.Telemetry;

namespace OrleansScheduler.WebApi.Tests.Telemetry;

/// <summary>The rules the WebApi evaluates, over successive stats (the figures the catalog grain
/// answers), for the rules the HTTP test (AlertTests) does not drive.</summary>
public sealed class AlertRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);

    private static SchedulerStats Stats(long completed = 0, long failed = 0, long queued = 0, int inUse = 0, int limit = 3, int silos = 1,
        int sample = 0, double? queueWaitP99Ms = null) =>
        new(new Dictionary<TaskStatus, long> { [TaskStatus.Completed] = completed, [TaskStatus.Failed] = failed, [TaskStatus.Queued] = queued },
            completed + failed + queued, new SlotsView(limit, inUse, []), silos, new ThroughputView(0, 0),
            new LatencyView(sample, null, queueWaitP99Ms, null, null));

    private static List<string> Names(AlertRules rules, DateTimeOffset at, SchedulerStats? stats, params (string, TimeSpan)[] overdue) =>
        rules.Evaluate(at, stats, stats is null ? "no gateway" : null, overdue).Select(f => f.Name).ToList();

    [Fact]
    public void Failure_rate_fires_over_the_threshold_with_enough_tasks_in_the_window_and_clears_when_they_leave_it()
    {
        var rules = new AlertRules(new AlertsOptions { FailureRateThreshold = 0.2, FailureRateWindow = TimeSpan.FromMinutes(5), FailureRateMinTasks = 20 });
        Assert.Empty(Names(rules, T0, Stats()));
        // 10 ended, 5 failed: over the rate, under the minimum count.
        Assert.Empty(Names(rules, T0.AddMinutes(1), Stats(completed: 5, failed: 5)));
        // 40 ended, 10 failed (25 %): fires.
        Assert.Equal(["failure_rate_high"], Names(rules, T0.AddMinutes(2), Stats(completed: 30, failed: 10)));
        // Later, 200 completions and no failure in the last 5 minutes: clears.
        Assert.Empty(Names(rules, T0.AddMinutes(8), Stats(completed: 230, failed: 10)));
        // 19 % of a window: below the threshold.
        Assert.Empty(Names(rules, T0.AddMinutes(9), Stats(completed: 311, failed: 29)));
    }

    [Fact]
    public void No_silo_alive_fires_only_once_it_held_for_its_time_and_clears_at_once()
    {
        var rules = new AlertRules(new AlertsOptions { NoSiloAliveFor = TimeSpan.FromSeconds(10) });
        Assert.Empty(Names(rules, T0, Stats(silos: 0)));
        Assert.Empty(Names(rules, T0.AddSeconds(5), null));
        Assert.Equal(["no_silo_alive"], Names(rules, T0.AddSeconds(10), null));
        Assert.Equal(["no_silo_alive"], Names(rules, T0.AddSeconds(15), Stats(silos: 0)));
        Assert.Empty(Names(rules, T0.AddSeconds(20), Stats(silos: 1)));
        Assert.Empty(Names(rules, T0.AddSeconds(25), Stats(silos: 0)));
    }

    [Fact]
    public void Queue_wait_fires_over_its_p99_threshold_with_a_large_enough_sample()
    {
        var rules = new AlertRules(new AlertsOptions { QueueWaitP99Threshold = TimeSpan.FromSeconds(60), QueueWaitMinSample = 20 });
        Assert.Empty(Names(rules, T0, Stats(sample: 10, queueWaitP99Ms: 90_000)));
        Assert.Equal(["queue_wait_high"], Names(rules, T0.AddSeconds(5), Stats(sample: 20, queueWaitP99Ms: 90_000)));
        Assert.Empty(Names(rules, T0.AddSeconds(10), Stats(sample: 1000, queueWaitP99Ms: 60_000)));
    }

    [Fact]
    public void Task_overdue_fires_while_a_task_is_reported_past_its_timeout()
    {
        var rules = new AlertRules(new AlertsOptions());
        var firing = rules.Evaluate(T0, Stats(inUse: 1), null, [("stuck", TimeSpan.FromMinutes(7))]);
        var (name, severity, message) = Assert.Single(firing);
        Assert.Equal(("task_overdue", "warning"), (name, severity));
        Assert.Contains("'stuck'", message, StringComparison.Ordinal);
        Assert.Empty(Names(rules, T0.AddSeconds(5), Stats(inUse: 1)));
    }

    [Fact]
    public void Slots_saturated_needs_every_sample_of_its_window_saturated_and_the_queue_grown()
    {
        var rules = new AlertRules(new AlertsOptions { SlotsSaturatedFor = TimeSpan.FromSeconds(60) });
        Assert.Empty(Names(rules, T0, Stats(inUse: 3, queued: 10)));
        Assert.Empty(Names(rules, T0.AddSeconds(30), Stats(inUse: 3, queued: 20)));
        Assert.Equal(["slots_saturated"], Names(rules, T0.AddSeconds(60), Stats(inUse: 3, queued: 30)));
        // A free slot inside the window: not saturated throughout.
        Assert.Empty(Names(rules, T0.AddSeconds(90), Stats(inUse: 2, queued: 40)));
        Assert.Empty(Names(rules, T0.AddSeconds(150), Stats(inUse: 3, queued: 50)));
        // The window's start is the sample at or before it: at 160 s that is the one at 90 s, free.
        Assert.Empty(Names(rules, T0.AddSeconds(160), Stats(inUse: 3, queued: 60)));
        Assert.Equal(["slots_saturated"], Names(rules, T0.AddSeconds(210), Stats(inUse: 3, queued: 70)));
        // Saturated, but the queue did not grow over the window: the slots keep up.
        Assert.Empty(Names(rules, T0.AddSeconds(280), Stats(inUse: 3, queued: 70)));
    }
}

/// <summary>Bad alert thresholds stop the start, naming the setting.</summary>
public sealed class AlertsOptionsTests
{
    private sealed class App(string key, string value) : Support.SchedulerApp
    {
        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { [key] = value };
    }

    [Theory]
    [InlineData("Alerts:FailureRateThreshold", "1.5")]
    [InlineData("Alerts:EvaluationInterval", "00:00:00")]
    [InlineData("Alerts:SlotsSaturatedFor", "-00:00:01")]
    public void A_bad_threshold_refuses_to_start_and_names_it(string key, string value)
    {
        using var app = new App(key, value);
        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());
        Assert.Contains(key, error.ToString(), StringComparison.Ordinal);
    }
}
