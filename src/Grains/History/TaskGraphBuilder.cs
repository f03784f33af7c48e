namespace OrleansScheduler.Grains.History;

/// <summary>Walks a task's neighbourhood level by level (one bounded query per level and direction)
/// and marks its critical path.</summary>
/// <remarks>The critical path is the chain through the selected task with the greatest total
/// weight: the heaviest chain of dependencies ending at it, then the heaviest chain of dependents
/// starting from it, within the levels shown. A task's weight is its last attempt's run time
/// (started to completed; so far while RUNNING), or its declared duration_ms before it has run:
/// the chain that decided (or will decide) when the task and its dependents can finish. Ties go to
/// the smaller id, so the answer is stable.</remarks>
internal static class TaskGraphBuilder
{
    public static async Task<TaskGraph?> BuildAsync(HistoryReadModel reads, string id, int depth, int maxNodes, DateTimeOffset now)
    {
        if (await reads.NodeAsync(id).ConfigureAwait(false) is not { } root)
        {
            return null;
        }

        var nodes = new Dictionary<long, GraphRow> { [root.Seq] = root };
        var edges = new HashSet<(long From, long To)>();
        var truncated = false;
        foreach (var upstream in new[] { true, false })
        {
            var frontier = new List<long> { root.Seq };
            for (var level = 1; level <= depth && frontier.Count > 0; level++)
            {
                // maxNodes + 1 rows at most: enough to fill the cap and to tell it was reached.
                var rows = await reads.NeighboursAsync(frontier, upstream, maxNodes + 1).ConfigureAwait(false);
                truncated |= rows.Count > maxNodes;
                var next = new List<long>();
                foreach (var (from, neighbour) in rows)
                {
                    if (!nodes.ContainsKey(neighbour.Seq))
                    {
                        if (nodes.Count >= maxNodes)
                        {
                            truncated = true;
                            continue;
                        }

                        nodes[neighbour.Seq] = neighbour with { Level = upstream ? -level : level };
                        next.Add(neighbour.Seq);
                    }

                    edges.Add(upstream ? (neighbour.Seq, from) : (from, neighbour.Seq));
                }

                frontier = next;
            }
        }

        var weights = nodes.Values.ToDictionary(n => n.Seq, n => Weight(n, now));
        var path = CriticalPath(root.Seq, nodes, edges, weights);
        var onPath = path.ToHashSet();
        var pathEdges = path.Zip(path.Skip(1)).ToHashSet();
        return new TaskGraph(
            root.Id,
            depth,
            truncated,
            nodes.Values.OrderBy(n => n.Level).ThenBy(n => n.Id, StringComparer.Ordinal)
                .Select(n => new GraphNode(n.Id, n.Type, n.Status, n.Level, RunMs(n, now), weights[n.Seq], onPath.Contains(n.Seq)))
                .ToList(),
            edges.OrderBy(e => nodes[e.From].Id, StringComparer.Ordinal).ThenBy(e => nodes[e.To].Id, StringComparer.Ordinal)
                .Select(e => new GraphEdge(nodes[e.From].Id, nodes[e.To].Id, pathEdges.Contains(e)))
                .ToList(),
            path.Select(s => nodes[s].Id).ToList(),
            path.Sum(s => weights[s]));
    }

    internal static long? RunMs(GraphRow node, DateTimeOffset now) => node.StartedAt switch
    {
        null => null,
        { } started when node.Status == TaskStatus.Running => Math.Max(0, now.ToUnixTimeMilliseconds() - started),
        { } started when node.CompletedAt is { } completed => Math.Max(0, completed - started),
        _ => null,
    };

    private static long Weight(GraphRow node, DateTimeOffset now) => RunMs(node, now) ?? node.DurationMs;

    /// <summary>The heaviest chain of upstream nodes ending at <paramref name="root"/>, then the
    /// heaviest chain of downstream nodes starting from it.</summary>
    private static List<long> CriticalPath(long root, Dictionary<long, GraphRow> nodes, HashSet<(long From, long To)> edges, Dictionary<long, long> weights)
    {
        var parents = edges.Where(e => nodes[e.From].Level < 0 || e.From == root).Where(e => nodes[e.To].Level <= 0)
            .ToLookup(e => e.To, e => e.From);
        var children = edges.Where(e => nodes[e.To].Level > 0 || e.To == root).Where(e => nodes[e.From].Level >= 0)
            .ToLookup(e => e.From, e => e.To);
        var up = Heaviest(root, parents, nodes, weights);
        var down = Heaviest(root, children, nodes, weights);
        up.Reverse();
        return [.. up, .. down.Skip(1)];
    }

    /// <summary>The heaviest chain from <paramref name="start"/> along <paramref name="next"/>
    /// (memoized: the levels shown form a DAG).</summary>
    private static List<long> Heaviest(long start, ILookup<long, long> next, Dictionary<long, GraphRow> nodes, Dictionary<long, long> weights)
    {
        var best = new Dictionary<long, (long Total, long Via)>();
        (long Total, long Via) Visit(long seq)
        {
            if (best.TryGetValue(seq, out var known))
            {
                return known;
            }

            (long Total, long Via) result = (weights[seq], -1);
            foreach (var candidate in next[seq].OrderBy(s => nodes[s].Id, StringComparer.Ordinal))
            {
                var total = weights[seq] + Visit(candidate).Total;
                // A chain of weightless tasks still extends the path: a tie with "stop here" goes on.
                if (total > result.Total || (result.Via == -1 && total == result.Total))
                {
                    result = (total, candidate);
                }
            }

            best[seq] = result;
            return result;
        }

        var chain = new List<long>();
        for (var seq = start; seq != -1; seq = Visit(seq).Via)
        {
            chain.Add(seq);
        }

        return chain;
    }
}
