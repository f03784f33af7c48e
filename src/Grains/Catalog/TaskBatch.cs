using OrleansScheduler.Grains.Dag;
using OrleansScheduler.Grains.Storage;
using OrleansScheduler.Grains.Tasks;

namespace OrleansScheduler.Grains.Catalog;

/// <summary>A whole DAG as its tasks' first states, written in one group-committed write: what
/// <see cref="TaskCatalogGrain.SubmitBatchAsync"/> does once the existing dependencies answered.</summary>
internal static class TaskBatch
{
    /// <summary>Each task's admission, in dependency order: an in-batch dependency's status is the
    /// one just decided for it.</summary>
    public static List<TaskState> NewStates(DagPlan plan, Dictionary<string, UpstreamStatus> existing, DateTimeOffset now, SchedulerOptions options)
    {
        var known = new Dictionary<string, UpstreamStatus>(existing, StringComparer.Ordinal);
        var states = new List<TaskState>(plan.InOrder.Count);
        foreach (var spec in plan.InOrder)
        {
            var state = TaskGrain.NewTask(spec, d => known[d], now, options);
            states.Add(state);
            known[spec.Id] = new UpstreamStatus(0, state.Status) { CauseId = state.CauseId, CauseStatus = state.CauseStatus };
        }

        return states;
    }

    /// <summary>Inserts every task in dependency order, so an in-batch dependency's row (and seq)
    /// exists before its dependents' edges are written. Ids that exist already make the whole write
    /// fail, naming them (up to 20).</summary>
    public static int InsertAll(DbWrite write, List<TaskState> states)
    {
        var seqs = new Dictionary<string, long>(states.Count, StringComparer.Ordinal);
        var existing = new List<string>();
        foreach (var state in states)
        {
            foreach (var dependency in state.Dependencies)
            {
                if (seqs.TryGetValue(dependency.Id, out var seq))
                {
                    dependency.Seq = seq;
                }
            }

            if (TaskRows.Insert(write, state) is { } inserted)
            {
                seqs[state.Id] = inserted;
            }
            else
            {
                existing.Add(state.Id);
            }
        }

        return existing.Count == 0 ? states.Count : throw SubmissionErrors.Conflict(existing);
    }
}
