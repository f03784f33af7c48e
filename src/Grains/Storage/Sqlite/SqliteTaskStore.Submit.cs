using OrleansScheduler.Grains.Dag;

namespace OrleansScheduler.Grains.Storage.Sqlite;

public sealed partial class SqliteTaskStore
{
    public Task<IReadOnlyList<SubmittedTask>> SubmitAsync(DagPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Writer.RunAsync(turn => Submit(turn, plan));
    }

    private IReadOnlyList<SubmittedTask> Submit(SqliteTurn turn, DagPlan plan)
    {
        var lookup = turn.Command(SqliteSql.TaskSeqAndStatusById);
        var existing = new List<string>();
        foreach (var spec in plan.InOrder)
        {
            if (Lookup(lookup, spec.Id) is not null)
            {
                existing.Add(spec.Id);
            }
        }

        if (existing.Count > 0)
        {
            throw SubmissionErrors.Conflict(existing);
        }

        var known = new Dictionary<string, (long Seq, TaskStatus Status)>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var id in plan.ExternalDependencies)
        {
            if (Lookup(lookup, id) is { } found)
            {
                known[id] = found;
            }
            else
            {
                missing.Add(id);
            }
        }

        if (missing.Count > 0)
        {
            throw SubmissionErrors.MissingDependencies(missing, single: plan.InOrder.Count == 1);
        }

        var insert = turn.Command(SqliteSql.InsertTask);
        var edge = turn.Command(SqliteSql.InsertEdge);
        var submitted = new List<SubmittedTask>(plan.InOrder.Count);
        foreach (var spec in plan.InOrder)
        {
            var admission = TaskStateMachine.Admit(spec, id => known[id].Status, turn.Now);
            var (dependencies, pending, initial) = (admission.Dependencies, admission.Pending, admission.Status);
            var seq = (long)insert
                .Bind("$id", spec.Id)
                .Bind("$type", spec.Type)
                .Bind("$status", initial.ToName())
                .Bind("$priority", spec.Priority)
                .Bind("$duration_ms", spec.DurationMs)
                .Bind("$payload", spec.Payload?.GetRawText())
                .Bind("$run_at", spec.RunAt?.ToUnixTimeMilliseconds())
                .Bind("$timeout_ms", spec.TimeoutMs)
                .Bind("$max_attempts", spec.MaxAttempts)
                .Bind("$pending_deps", pending)
                .Bind("$now", turn.NowMs)
                .Bind("$queued_at", initial == TaskStatus.Queued ? turn.NowMs : null)
                .Bind("$completed_at", initial.IsTerminal() ? turn.NowMs : null)
                .Bind("$error", admission.Error)
                .Bind("$backoff", spec.RetryBackoffMs ?? (long)_scheduler.RetryBackoff.TotalMilliseconds)
                .Bind("$backoff_max", spec.RetryBackoffMaxMs ?? (long)_scheduler.RetryBackoffMax.TotalMilliseconds)
                .ExecuteScalar()!;

            foreach (var dependency in dependencies)
            {
                edge.Bind("$upstream", known[dependency].Seq).Bind("$downstream", seq).ExecuteNonQuery();
            }

            AddEvent(turn, seq, null, initial, null, null, admission.Reason);
            if (initial == TaskStatus.Scheduled)
            {
                SetReadyReminder(turn, seq, spec.RunAt!.Value, RunAtReached);
            }

            turn.Count(initial, 1);
            if (initial == TaskStatus.Queued)
            {
                turn.WorkAvailable = true;
            }

            known[spec.Id] = (seq, initial);
            submitted.Add(new SubmittedTask(spec.Id, initial));
        }

        return submitted;
    }

    private static (long Seq, TaskStatus Status)? Lookup(Microsoft.Data.Sqlite.SqliteCommand lookup, string id)
    {
        using var reader = lookup.Bind("$id", id).ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), TaskStatusNames.Parse(reader.GetString(1))) : null;
    }

    private static void AddEvent(SqliteTurn turn, long seq, TaskStatus? from, TaskStatus to, string? silo, int? attempt, string? reason) =>
        turn.Command(SqliteSql.InsertEvent)
            .Bind("$task", seq)
            .Bind("$at", turn.NowMs)
            .Bind("$from", from?.ToName())
            .Bind("$to", to.ToName())
            .Bind("$silo", silo)
            .Bind("$attempt", attempt)
            .Bind("$reason", reason)
            .ExecuteNonQuery();
}
