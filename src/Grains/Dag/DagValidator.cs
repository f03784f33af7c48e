namespace OrleansScheduler.Grains.Dag;

/// <summary>Validates a batch as a DAG before anything is written: fields, duplicate ids, and cycles
/// (reported as a path). Existing tasks cannot depend on new ones, so a cycle can only lie inside
/// the batch, and a topological order of the batch is all that is needed.</summary>
public static class DagValidator
{
    public static DagPlan Plan(IReadOnlyList<TaskSpec> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        if (specs.Count == 0)
        {
            throw new TaskValidationException("tasks", "must contain at least one task");
        }

        var single = specs.Count == 1;
        var errors = new Dictionary<string, List<string>>();
        var index = new Dictionary<string, int>(specs.Count, StringComparer.Ordinal);
        for (var i = 0; i < specs.Count; i++)
        {
            TaskSpecValidator.Validate(specs[i], single ? "" : $"tasks[{i}].", errors);
            if (!string.IsNullOrEmpty(specs[i].Id) && !index.TryAdd(specs[i].Id, i))
            {
                errors[$"tasks[{i}].id"] = [$"duplicate id '{specs[i].Id}' in the batch (first at tasks[{index[specs[i].Id]}])"];
            }
        }

        TaskSpecValidator.ThrowIfAny(errors);

        // Kahn's algorithm over in-batch edges; what is left over lies on or behind a cycle.
        var indegree = new int[specs.Count];
        var dependents = new List<int>?[specs.Count];
        var external = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < specs.Count; i++)
        {
            foreach (var dependency in specs[i].Dependencies.Distinct(StringComparer.Ordinal))
            {
                if (index.TryGetValue(dependency, out var upstream))
                {
                    indegree[i]++;
                    (dependents[upstream] ??= []).Add(i);
                }
                else
                {
                    external.Add(dependency);
                }
            }
        }

        var order = new List<TaskSpec>(specs.Count);
        var ready = new Queue<int>();
        for (var i = 0; i < specs.Count; i++)
        {
            if (indegree[i] == 0)
            {
                ready.Enqueue(i);
            }
        }

        while (ready.TryDequeue(out var next))
        {
            order.Add(specs[next]);
            if (dependents[next] is { } downstream)
            {
                foreach (var d in downstream)
                {
                    if (--indegree[d] == 0)
                    {
                        ready.Enqueue(d);
                    }
                }
            }
        }

        if (order.Count < specs.Count)
        {
            var cycle = FindCycle(specs, index, indegree);
            throw new TaskValidationException(
                single ? "dependencies" : "tasks",
                $"dependency cycle: {string.Join(" -> ", cycle)}",
                cycle,
                "cycle");
        }

        return new DagPlan(order, external);
    }

    /// <summary>Walks dependency edges among the tasks Kahn could not order; every such task has an
    /// unordered dependency, so the walk must revisit a task, and the loop from there is a cycle.</summary>
    private static List<string> FindCycle(IReadOnlyList<TaskSpec> specs, Dictionary<string, int> index, int[] indegree)
    {
        var start = Array.FindIndex(indegree, d => d > 0);
        var seenAt = new Dictionary<int, int>();
        var path = new List<int>();
        var current = start;
        while (!seenAt.ContainsKey(current))
        {
            seenAt[current] = path.Count;
            path.Add(current);
            current = specs[current].Dependencies
                .Where(index.ContainsKey)
                .Select(d => index[d])
                .First(d => indegree[d] > 0);
        }

        // path runs task -> its dependency; print it as "a -> b" meaning a depends on b.
        var cycle = path.Skip(seenAt[current]).Select(i => specs[i].Id).ToList();
        cycle.Add(specs[current].Id);
        return cycle;
    }
}
