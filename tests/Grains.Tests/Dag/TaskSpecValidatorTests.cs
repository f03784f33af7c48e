using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Dag;

public sealed class TaskSpecValidatorTests
{
    public static TheoryData<string> ValidIds => new()
    {
        "a",
        "task-A",
        "A-z_0.9:x",
        "urn:job:2026.01.09_x-1",
        new string('x', 128),
    };

    public static TheoryData<string?> InvalidIds => new()
    {
        null,
        "",
        new string('x', 129),
        "a b",
        "a/b",
        "a#1",
        "caf\u00e9",
        "tab\t",
        "../etc",
        "a,b",
    };

    [Theory]
    [MemberData(nameof(ValidIds))]
    public void Accepts_ids_of_1_to_128_letters_digits_and_separators(string id)
    {
        Assert.True(TaskSpecValidator.IsValidId(id, out var reason), reason);
        Assert.Empty(Errors(Specs.Task(id)));
    }

    [Theory]
    [MemberData(nameof(InvalidIds))]
    public void Rejects_other_ids_naming_the_field(string? id)
    {
        Assert.False(TaskSpecValidator.IsValidId(id, out var reason));
        Assert.False(string.IsNullOrEmpty(reason));
        var errors = Errors(Specs.Task("placeholder") with { Id = id! });
        Assert.Equal([reason], Assert.Contains("id", errors));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Type_is_required(string type)
    {
        var errors = Errors(Specs.Task("a") with { Type = type });

        Assert.Contains(Assert.Contains("type", errors), r => r.Contains("required", StringComparison.Ordinal));
    }

    [Fact]
    public void Type_longer_than_the_maximum_is_rejected()
    {
        Assert.Empty(Errors(Specs.Task("a") with { Type = new string('t', TaskSpecValidator.MaxTypeLength) }));
        Assert.Contains("type", Errors(Specs.Task("a") with { Type = new string('t', TaskSpecValidator.MaxTypeLength + 1) }).Keys);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(86_400_000, true)]
    [InlineData(-1, false)]
    [InlineData(86_400_001, false)]
    [InlineData(long.MaxValue, false)]
    public void Duration_is_from_0_to_a_day(long durationMs, bool valid)
    {
        var errors = Errors(Specs.Task("a") with { DurationMs = durationMs });

        Assert.Equal(valid, !errors.ContainsKey("duration_ms"));
        Assert.Equal(valid, errors.Count == 0);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(5, true)]
    [InlineData(10, true)]
    [InlineData(0, false)]
    [InlineData(11, false)]
    [InlineData(-3, false)]
    public void Priority_is_from_1_to_10(int priority, bool valid)
    {
        var errors = Errors(Specs.Task("a") with { Priority = priority });

        Assert.Equal(valid, !errors.ContainsKey("priority"));
        Assert.Equal(valid, errors.Count == 0);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(100, true)]
    [InlineData(0, false)]
    [InlineData(-1, false)]
    [InlineData(101, false)]
    public void Max_attempts_is_from_1_to_the_maximum(int maxAttempts, bool valid)
    {
        var errors = Errors(Specs.Task("a") with { MaxAttempts = maxAttempts });

        Assert.Equal(valid, !errors.ContainsKey("max_attempts"));
        Assert.Equal(valid, errors.Count == 0);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(1L, true)]
    [InlineData(0L, false)]
    [InlineData(-5L, false)]
    public void Timeout_when_given_is_positive(long? timeoutMs, bool valid)
    {
        var errors = Errors(Specs.Task("a") with { TimeoutMs = timeoutMs });

        Assert.Equal(valid, errors.Count == 0);
        Assert.Equal(valid, !errors.ContainsKey("timeout_ms"));
    }

    [Fact]
    public void Dependencies_must_be_valid_ids_and_not_the_task_itself()
    {
        var errors = Errors(Specs.Task("a", "ok", "bad id", "a"));

        Assert.DoesNotContain("dependencies[0]", errors.Keys);
        Assert.Contains("dependencies[1]", errors.Keys);
        Assert.Contains(Assert.Contains("dependencies[2]", errors), r => r.Contains("itself", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_bad_field_is_reported_at_once_under_the_prefix()
    {
        var spec = new TaskSpec("bad id", "", -1, ["x y"], null, 0, null, 0, 0);
        var errors = new Dictionary<string, List<string>>();

        TaskSpecValidator.Validate(spec, "tasks[3].", errors);

        Assert.Equal(
            ["tasks[3].dependencies[0]", "tasks[3].duration_ms", "tasks[3].id", "tasks[3].max_attempts", "tasks[3].priority", "tasks[3].timeout_ms", "tasks[3].type"],
            errors.Keys.Order(StringComparer.Ordinal));
        var thrown = Assert.Throws<TaskValidationException>(() => TaskSpecValidator.ThrowIfAny(errors));
        Assert.Equal(7, thrown.Errors.Count);
    }

    [Fact]
    public void No_errors_means_nothing_thrown()
    {
        TaskSpecValidator.ThrowIfAny(new Dictionary<string, List<string>>());
    }

    private static Dictionary<string, List<string>> Errors(TaskSpec spec)
    {
        var errors = new Dictionary<string, List<string>>();
        TaskSpecValidator.Validate(spec, "", errors);
        return errors;
    }
}
