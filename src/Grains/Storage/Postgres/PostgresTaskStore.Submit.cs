using Npgsql;
using OrleansScheduler.Grains.Dag;

namespace OrleansScheduler.Grains.Storage.Postgres;

public sealed partial class PostgresTaskStore
{
    public Task<IReadOnlyList<SubmittedTask>> SubmitAsync(DagPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return RunAsync((turn, ct) => SubmitAsync(turn, plan, ct), cancellationToken);
    }

    private async Task<IReadOnlyList<SubmittedTask>> SubmitAsync(PostgresTurn turn, DagPlan plan, CancellationToken cancellationToken)
    {
        var existing = new List<string>();
        foreach (var spec in plan.InOrder)
        {
            if (await LookupAsync(turn, spec.Id, cancellationToken).ConfigureAwait(false) is not null)
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
        foreach (var id in plan.ExternalDependencies.Order(StringComparer.Ordinal))
        {
            if (await LookupAsync(turn, id, cancellationToken).ConfigureAwait(false) is { } found)
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

        var submitted = new List<SubmittedTask>(plan.InOrder.Count);
        foreach (var spec in plan.InOrder)
        {
            var admission = TaskStateMachine.Admit(spec, id => known[id].Status, turn.Now);
            var (dependencies, pending, initial) = (admission.Dependencies, admission.Pending, admission.Status);
            long seq;
            try
            {
                seq = (long)(await turn.Command(PostgresSql.InsertTask)
                    .Bind("id", spec.Id)
                    .Bind("type", spec.Type)
                    .Bind("status", initial.ToName())
                    .Bind("priority", spec.Priority)
                    .Bind("duration_ms", spec.DurationMs)
                    .Bind("payload", spec.Payload?.GetRawText())
                    .Bind("run_at", spec.RunAt?.ToUniversalTime())
                    .Bind("timeout_ms", spec.TimeoutMs)
                    .Bind("max_attempts", spec.MaxAttempts)
                    .Bind("pending_deps", pending)
                    .Bind("now", turn.Now)
                    .Bind("queued_at", initial == TaskStatus.Queued ? turn.Now : null)
                    .Bind("completed_at", initial.IsTerminal() ? turn.Now : null)
                    .Bind("error", admission.Error)
                    .Bind("backoff", spec.RetryBackoffMs ?? (long)_scheduler.RetryBackoff.TotalMilliseconds)
                    .Bind("backoff_max", spec.RetryBackoffMaxMs ?? (long)_scheduler.RetryBackoffMax.TotalMilliseconds)
                    .ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // Another silo's submission of the same id committed between the lookup and here.
                throw SubmissionErrors.Conflict([spec.Id]);
            }

            foreach (var dependency in dependencies)
            {
                await turn.Command(PostgresSql.InsertEdge).Bind("upstream", known[dependency].Seq).Bind("downstream", seq)
                    .ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await AddEventAsync(turn, seq, null, initial, null, null, admission.Reason, cancellationToken).ConfigureAwait(false);
            if (initial == TaskStatus.Scheduled)
            {
                await SetReadyReminderAsync(turn, seq, spec.RunAt!.Value, RunAtReached, cancellationToken).ConfigureAwait(false);
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

    private static async Task<(long Seq, TaskStatus Status)?> LookupAsync(PostgresTurn turn, string id, CancellationToken cancellationToken)
    {
        await using var command = turn.Command(PostgresSql.TaskSeqAndStatusById).Bind("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (reader.GetInt64(0), TaskStatusNames.Parse(reader.GetString(1)))
            : null;
    }

    private static async Task AddEventAsync(PostgresTurn turn, long seq, TaskStatus? from, TaskStatus to, string? silo, int? attempt, string? reason,
        CancellationToken cancellationToken)
    {
        await using var command = turn.Command(PostgresSql.InsertEvent)
            .Bind("task", seq)
            .Bind("at", turn.Now)
            .Bind("from", from?.ToName())
            .Bind("to", to.ToName())
            .Bind("silo", silo)
            .Bind("attempt", attempt)
            .Bind("reason", reason);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
