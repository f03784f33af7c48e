namespace OrleansScheduler.Grains.Dag;

/// <summary>A validated batch: the specs in an order where every in-batch dependency comes before
/// its dependents, and the dependencies that must already exist.</summary>
public sealed record DagPlan(IReadOnlyList<TaskSpec> InOrder, IReadOnlyCollection<string> ExternalDependencies);
