namespace OrleansScheduler.EndToEnd.Tests.Cluster;

/// <summary>The cluster test classes run one after another: each starts four .NET processes with
/// sub-second heartbeats, and three such clusters at once on a small CI machine would starve
/// their heartbeats and lose leases the tests do not mean to lose. They run in parallel with the
/// other end-to-end tests. None of them restarts the shared PostgreSQL server (the restart test
/// has a server of its own), so none needs the whole assembly to itself.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection
{
    public const string Name = "Process cluster";
}
