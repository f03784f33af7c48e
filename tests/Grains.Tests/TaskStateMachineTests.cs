using OrleansScheduler.Grains.Tasks;
namespace OrleansScheduler.Grains.Tests;

public sealed class TaskStateMachineTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 9, 10, 0, 0, TimeSpan.Zero);

    public static TheoryData<TaskStatus> AllStatuses => new(Enum.GetValues<TaskStatus>());

    [Theory]
    [InlineData(0, false, null, TaskStatus.Queued)]
    [InlineData(0, false, -1, TaskStatus.Queued)]
    [InlineData(0, false, 0, TaskStatus.Queued)]
    [InlineData(0, false, 1, TaskStatus.Scheduled)]
    [InlineData(1, false, null, TaskStatus.Waiting)]
    [InlineData(3, false, 1, TaskStatus.Waiting)]
    [InlineData(0, true, null, TaskStatus.UpstreamFailed)]
    [InlineData(2, true, 1, TaskStatus.UpstreamFailed)]
    public void A_new_task_starts_where_its_dependencies_and_run_at_put_it(int pending, bool upstreamFailed, int? runAtSeconds, TaskStatus expected)
    {
        DateTimeOffset? runAt = runAtSeconds is { } s ? Now.AddSeconds(s) : null;

        Assert.Equal(expected, TaskStateMachine.Initial(pending, upstreamFailed, runAt, Now));
    }

    [Theory]
    [InlineData(null, TaskStatus.Queued)]
    [InlineData(-60, TaskStatus.Queued)]
    [InlineData(0, TaskStatus.Queued)]
    [InlineData(60, TaskStatus.Scheduled)]
    public void A_released_task_is_queued_unless_run_at_is_ahead(int? runAtSeconds, TaskStatus expected)
    {
        DateTimeOffset? runAt = runAtSeconds is { } s ? Now.AddSeconds(s) : null;

        Assert.Equal(expected, TaskStateMachine.Released(runAt, Now));
    }

    [Theory]
    [InlineData(true, 1, 3, TaskStatus.Completed)]
    [InlineData(true, 3, 3, TaskStatus.Completed)]
    [InlineData(false, 1, 3, TaskStatus.Queued)]
    [InlineData(false, 2, 3, TaskStatus.Queued)]
    [InlineData(false, 3, 3, TaskStatus.Failed)]
    [InlineData(false, 1, 1, TaskStatus.Failed)]
    [InlineData(false, 4, 3, TaskStatus.Failed)]
    public void An_attempt_ends_completed_retried_or_failed(bool succeeded, int attempt, int maxAttempts, TaskStatus expected)
    {
        var next = TaskStateMachine.AfterAttempt(succeeded, attempt, maxAttempts);

        Assert.Equal(expected, next);
        Assert.True(TaskStateMachine.CanTransition(TaskStatus.Running, next), $"RUNNING -> {next} is not an allowed transition");
    }

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public void Only_failed_cancelled_and_upstream_failed_doom_dependents(TaskStatus status)
    {
        var expected = status is TaskStatus.Failed or TaskStatus.Cancelled or TaskStatus.UpstreamFailed;

        Assert.Equal(expected, TaskStateMachine.FailsDependents(status));
        if (expected)
        {
            Assert.True(status.IsTerminal());
        }
    }

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public void No_status_transitions_to_itself(TaskStatus status) =>
        Assert.False(TaskStateMachine.CanTransition(status, status));

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public void Completed_is_final(TaskStatus to) =>
        Assert.False(TaskStateMachine.CanTransition(TaskStatus.Completed, to));

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public void Only_a_queued_task_starts_running(TaskStatus from) =>
        Assert.Equal(from == TaskStatus.Queued, TaskStateMachine.CanTransition(from, TaskStatus.Running));

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public void Only_a_running_task_completes_or_fails(TaskStatus from)
    {
        Assert.Equal(from == TaskStatus.Running, TaskStateMachine.CanTransition(from, TaskStatus.Completed));
        Assert.Equal(from == TaskStatus.Running, TaskStateMachine.CanTransition(from, TaskStatus.Failed));
    }

    [Theory]
    [InlineData(TaskStatus.Waiting, TaskStatus.Queued)]
    [InlineData(TaskStatus.Waiting, TaskStatus.Scheduled)]
    [InlineData(TaskStatus.Waiting, TaskStatus.UpstreamFailed)]
    [InlineData(TaskStatus.Scheduled, TaskStatus.Queued)]
    [InlineData(TaskStatus.Queued, TaskStatus.Running)]
    [InlineData(TaskStatus.Running, TaskStatus.Queued)]
    [InlineData(TaskStatus.Running, TaskStatus.Cancelled)]
    [InlineData(TaskStatus.Failed, TaskStatus.Queued)]
    [InlineData(TaskStatus.UpstreamFailed, TaskStatus.Waiting)]
    public void The_lifecycle_transitions_are_allowed(TaskStatus from, TaskStatus to) =>
        Assert.True(TaskStateMachine.CanTransition(from, to));

    [Theory]
    [InlineData(TaskStatus.Waiting, TaskStatus.Running)]
    [InlineData(TaskStatus.Waiting, TaskStatus.Completed)]
    [InlineData(TaskStatus.Queued, TaskStatus.Completed)]
    [InlineData(TaskStatus.Queued, TaskStatus.Waiting)]
    [InlineData(TaskStatus.Running, TaskStatus.Waiting)]
    [InlineData(TaskStatus.UpstreamFailed, TaskStatus.Running)]
    [InlineData(TaskStatus.Failed, TaskStatus.Completed)]
    public void Shortcuts_are_not_allowed(TaskStatus from, TaskStatus to) =>
        Assert.False(TaskStateMachine.CanTransition(from, to));

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public void Status_names_round_trip_in_any_case(TaskStatus status)
    {
        var name = status.ToName();

        Assert.Equal(name.ToUpperInvariant(), name);
        Assert.Equal(status, TaskStatusNames.Parse(name));
        Assert.True(TaskStatusNames.TryParse(name.ToLowerInvariant(), out var parsed));
        Assert.Equal(status, parsed);
    }

    [Fact]
    public void Status_names_are_the_wire_names()
    {
        Assert.Equal(
            ["WAITING", "SCHEDULED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "UPSTREAM_FAILED"],
            Enum.GetValues<TaskStatus>().Select(s => s.ToName()));
        Assert.False(TaskStatusNames.TryParse("pending", out _));
        Assert.False(TaskStatusNames.TryParse(null, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskStatusNames.Parse("DONE"));
    }

    [Fact]
    public void Terminal_statuses_are_the_four_ends()
    {
        Assert.Equal(
            [TaskStatus.Completed, TaskStatus.Failed, TaskStatus.Cancelled, TaskStatus.UpstreamFailed],
            Enum.GetValues<TaskStatus>().Where(s => s.IsTerminal()));
    }
}
