using OrleansScheduler.Grains.Dag;

namespace OrleansScheduler.Grains.Tests.Support;

/// <summary>Builds task specs with the API's defaults, so a test names only what it is about.</summary>
internal static class Specs
{
    public static TaskSpec Task(string id, params string[] dependencies) =>
        new(id, "test", 0, dependencies, null, TaskSpec.DefaultPriority, null, null, TaskSpec.DefaultMaxAttempts);

    public static DagPlan Plan(params TaskSpec[] specs) => DagValidator.Plan(specs);
}
