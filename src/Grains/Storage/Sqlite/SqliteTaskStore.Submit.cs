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
            throw new TaskConflictException(
                existing[0],
                existing.Count == 1
                    ? $"A task with id '{existing[0]}' already exists."
                    : $"Tasks with these ids already exist: {string.Join(", ", existing.Take(20))}.");
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
            missing.Sort(StringComparer.Ordinal);
            throw new TaskValidationException(
                plan.InOrder.Count == 1 ? "dependencies" : "tasks",
                $"unknown dependencies: {string.Join(", ", missing)}; a dependency must exist or be in the same batch",
                missing,
                "missing_dependency");
        }

        var insert = turn.Command(SqliteSql.InsertTask);
        var edge = turn.Command(SqliteSql.InsertEdge);
        var submitted = new List<SubmittedTask>(plan.InOrder.Count);
        foreach (var spec in plan.InOrder)
        {
            var pending = 0;
            var upstreamFailed = false;
            var dependencies = spec.Dependencies.Count <= 1 ? spec.Dependencies : spec.Dependencies.Distinct(StringComparer.Ordinal).ToList();
            foreach (var dependency in dependencies)
            {
                var status = known[dependency].Status;
                upstreamFailed |= TaskStateMachine.FailsDependents(status);
                if (status != TaskStatus.Completed)
                {
                    pending++;
                }
            }

            var initial = TaskStateMachine.Initial(pending, upstreamFailed, spec.RunAt, turn.Now);
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
                .Bind("$backoff", spec.RetryBackoffMs ?? (long)_scheduler.RetryBackoff.TotalMilliseconds)
                .Bind("$backoff_max", spec.RetryBackoffMaxMs ?? (long)_scheduler.RetryBackoffMax.TotalMilliseconds)
                .ExecuteScalar()!;

            foreach (var dependency in dependencies)
            {
                edge.Bind("$upstream", known[dependency].Seq).Bind("$downstream", seq).ExecuteNonQuery();
            }

            var reason = initial switch
            {
                TaskStatus.UpstreamFailed => "submitted; a dependency already ended without completing",
                TaskStatus.Waiting => $"submitted; waiting for {pending} of {dependencies.Count} dependencies",
                TaskStatus.Scheduled => "submitted; run_at is in the future",
                _ => "submitted",
            };
            AddEvent(turn, seq, null, initial, null, null, reason);
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
