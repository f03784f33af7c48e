namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>The cluster test classes run one after another and alone: each starts four .NET
/// processes whose failure detection probes every second, and on a small CI machine (two cores
/// here) clusters side by side, or beside CrashRecoveryTests' server, starve each other's probes and
/// timings (the crash test's "RUNNING at the kill" window closes). None of them restarts the shared PostgreSQL
/// server (the restart test has a server of its own), so other test projects are not disturbed.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "Process cluster";
}
