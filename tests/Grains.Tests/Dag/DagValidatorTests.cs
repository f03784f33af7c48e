using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Tests.Support;

namespace OrleansScheduler.Grains.Tests.Dag;

public sealed class DagValidatorTests
{
    [Fact]
    public void Orders_a_batch_so_every_dependency_comes_before_its_dependents()
    {
        // Given dependents first, and a diamond: d needs b and c, both need a.
        var plan = DagValidator.Plan([
            Specs.Task("d", "b", "c"),
            Specs.Task("c", "a"),
            Specs.Task("b", "a"),
            Specs.Task("a"),
        ]);

        var order = plan.InOrder.Select(s => s.Id).ToList();
        Assert.Equal(["a", "b", "c", "d"], order.Order(StringComparer.Ordinal));
        Assert.True(order.IndexOf("a") < order.IndexOf("b"), string.Join(",", order));
        Assert.True(order.IndexOf("a") < order.IndexOf("c"), string.Join(",", order));
        Assert.True(order.IndexOf("b") < order.IndexOf("d"), string.Join(",", order));
        Assert.True(order.IndexOf("c") < order.IndexOf("d"), string.Join(",", order));
        Assert.Empty(plan.ExternalDependencies);
    }

    [Fact]
    public void Dependencies_outside_the_batch_are_listed_as_external_once()
    {
        var plan = DagValidator.Plan([
            Specs.Task("b", "a", "old-1"),
            Specs.Task("a", "old-1", "old-2"),
        ]);

        Assert.Equal(["old-1", "old-2"], plan.ExternalDependencies.Order(StringComparer.Ordinal));
        Assert.Equal(["a", "b"], plan.InOrder.Select(s => s.Id));
    }

    [Fact]
    public void A_dependency_named_twice_is_one_edge()
    {
        var plan = DagValidator.Plan([Specs.Task("b", "a", "a"), Specs.Task("a")]);

        Assert.Equal(["a", "b"], plan.InOrder.Select(s => s.Id));
    }

    [Fact]
    public void Duplicate_ids_in_a_batch_are_rejected_naming_the_second_one()
    {
        var error = Assert.Throws<TaskValidationException>(() =>
            DagValidator.Plan([Specs.Task("a"), Specs.Task("b"), Specs.Task("a")]));

        var reasons = Assert.Contains("tasks[2].id", error.Errors);
        Assert.Contains(reasons, r => r.Contains("duplicate", StringComparison.Ordinal) && r.Contains("'a'", StringComparison.Ordinal));
        Assert.DoesNotContain("tasks[0].id", error.Errors.Keys);
    }

    [Fact]
    public void A_two_task_cycle_is_reported_as_a_path()
    {
        var error = Assert.Throws<TaskValidationException>(() =>
            DagValidator.Plan([Specs.Task("a", "b"), Specs.Task("b", "a")]));

        Assert.Equal("cycle", error.Kind);
        Assert.True(
            error.Ids.SequenceEqual(["a", "b", "a"]) || error.Ids.SequenceEqual(["b", "a", "b"]),
            $"cycle path was [{string.Join(", ", error.Ids)}]");
        Assert.Contains(string.Join(" -> ", error.Ids), error.Message, StringComparison.Ordinal);
        Assert.Contains("tasks", error.Errors.Keys);
    }

    [Fact]
    public void A_cycle_behind_a_tail_is_reported_without_the_tail()
    {
        var specs = new[]
        {
            Specs.Task("x", "a"),
            Specs.Task("a", "b"),
            Specs.Task("b", "c"),
            Specs.Task("c", "a"),
            Specs.Task("free"),
        };

        var error = Assert.Throws<TaskValidationException>(() => DagValidator.Plan(specs));

        var path = error.Ids;
        Assert.True(path.Count == 4, $"cycle path was [{string.Join(", ", path)}]");
        Assert.Equal(path[0], path[^1]);
        Assert.Equal(["a", "b", "c"], path.Take(3).Order(StringComparer.Ordinal));
        AssertIsDependencyPath(specs, path);
        Assert.Contains(string.Join(" -> ", path), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cycle_through_a_diamond_is_found()
    {
        var specs = new[]
        {
            Specs.Task("top"),
            Specs.Task("left", "top", "bottom"),
            Specs.Task("right", "top"),
            Specs.Task("bottom", "left", "right"),
        };

        var error = Assert.Throws<TaskValidationException>(() => DagValidator.Plan(specs));

        Assert.Equal("cycle", error.Kind);
        Assert.Equal(error.Ids[0], error.Ids[^1]);
        Assert.Contains("left", error.Ids);
        Assert.Contains("bottom", error.Ids);
        Assert.DoesNotContain("top", error.Ids);
        AssertIsDependencyPath(specs, error.Ids);
    }

    [Fact]
    public void A_single_task_that_depends_on_itself_is_rejected_by_field()
    {
        var error = Assert.Throws<TaskValidationException>(() => DagValidator.Plan([Specs.Task("a", "a")]));

        var reasons = Assert.Contains("dependencies[0]", error.Errors);
        Assert.Contains(reasons, r => r.Contains("itself", StringComparison.Ordinal));
    }

    [Fact]
    public void A_self_dependency_in_a_batch_names_the_task_in_the_batch()
    {
        var error = Assert.Throws<TaskValidationException>(() =>
            DagValidator.Plan([Specs.Task("a"), Specs.Task("b", "a", "b")]));

        var reasons = Assert.Contains("tasks[1].dependencies[1]", error.Errors);
        Assert.Contains(reasons, r => r.Contains("itself", StringComparison.Ordinal));
    }

    [Fact]
    public void Field_errors_of_every_task_in_a_batch_are_collected_before_any_graph_check()
    {
        var error = Assert.Throws<TaskValidationException>(() => DagValidator.Plan([
            Specs.Task("ok"),
            Specs.Task("bad id"),
            Specs.Task("c") with { Priority = 11 },
        ]));

        Assert.Contains("tasks[1].id", error.Errors.Keys);
        Assert.Contains("tasks[2].priority", error.Errors.Keys);
        Assert.Equal("invalid", error.Kind);
    }

    [Fact]
    public void An_empty_batch_is_rejected()
    {
        var error = Assert.Throws<TaskValidationException>(() => DagValidator.Plan([]));

        Assert.Contains("tasks", error.Errors.Keys);
    }

    /// <summary>Each step of the path is a real edge: the task depends on the next one.</summary>
    private static void AssertIsDependencyPath(IReadOnlyList<TaskSpec> specs, IReadOnlyList<string> path)
    {
        for (var i = 0; i + 1 < path.Count; i++)
        {
            var spec = specs.Single(s => s.Id == path[i]);
            Assert.True(spec.Dependencies.Contains(path[i + 1]),
                $"'{path[i]}' does not depend on '{path[i + 1]}' in the reported path [{string.Join(" -> ", path)}]");
        }
    }
}
