namespace OrleansScheduler;

/// <summary>A task's DAG neighbourhood: its dependencies (upstream) and dependents (downstream) up to
/// <paramref name="Depth"/> levels each way, with the critical path through it.</summary>
/// <param name="Truncated">The walk stopped at the node cap: some tasks of the neighbourhood are not shown.</param>
/// <param name="CriticalPath">Ids from the first upstream task to the last downstream one: the chain
/// through the task with the greatest total weight (see <see cref="GraphNode.WeightMs"/>).</param>
[GenerateSerializer, Immutable]
public sealed record TaskGraph(
    string Id,
    int Depth,
    bool Truncated,
    IReadOnlyList<GraphNode> Nodes,
    IReadOnlyList<GraphEdge> Edges,
    IReadOnlyList<string> CriticalPath,
    long CriticalPathMs);

/// <param name="Level">0 for the task itself, -n for n levels upstream, +n for n levels downstream.</param>
/// <param name="RunMs">Its last attempt's run time (started to completed; so far, while RUNNING); null if it has not run.</param>
/// <param name="WeightMs">What it counts for on the critical path: its run time, or its declared duration_ms before it ran.</param>
[GenerateSerializer, Immutable]
public sealed record GraphNode(string Id, string Type, TaskStatus Status, int Level, long? RunMs, long WeightMs, bool Critical);

/// <summary><paramref name="From"/> must complete before <paramref name="To"/> runs.</summary>
[GenerateSerializer, Immutable]
public sealed record GraphEdge(string From, string To, bool Critical);
