using System.Text.Json;

namespace OrleansScheduler.Grains.Storage.Postgres;

public sealed partial class PostgresTaskStore
{
    public Task<IReadOnlyList<AttemptLease>> ClaimAsync(string siloId, int max, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(siloId);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return RunAsync((turn, ct) => ClaimAsync(turn, siloId, max, ct), cancellationToken);
    }

    public Task<bool> ReportAsync(AttemptOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return RunAsync((turn, ct) => EndAttemptAsync(turn, outcome.Lease.TaskId, outcome.Lease.Attempt, outcome.Lease.MaxAttempts,
            outcome.Lease.SiloId, outcome.Succeeded, outcome.Result, outcome.Error, ct), cancellationToken);
    }

    /// <summary>One turn: every outcome is fenced and recorded, then the freed slots go straight to
    /// the next ready tasks for the same silo, in the same transaction.</summary>
    public Task<HandOver> ReleaseAndClaimAsync(IReadOnlyList<AttemptOutcome> finished, string siloId, int max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(finished);
        ArgumentException.ThrowIfNullOrEmpty(siloId);
        return RunAsync(async (turn, ct) =>
        {
            var accepted = new bool[finished.Count];
            // Slot rows are locked in slot order, as the heartbeat's renewal locks them.
            foreach (var i in Enumerable.Range(0, finished.Count).OrderBy(i => finished[i].Lease.Slot))
            {
                var (lease, outcome) = (finished[i].Lease, finished[i]);
                accepted[i] = await EndAttemptAsync(turn, lease.TaskId, lease.Attempt, lease.MaxAttempts, lease.SiloId,
                    outcome.Succeeded, outcome.Result, outcome.Error, ct).ConfigureAwait(false);
            }

            var leases = max > 0 ? await ClaimAsync(turn, siloId, max, ct).ConfigureAwait(false) : [];
            return new HandOver(accepted, leases);
        }, cancellationToken);
    }

    public Task<bool> HandBackAsync(AttemptLease lease, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return RunAsync(async (turn, ct) =>
        {
            long seq;
            await using (var command = turn.Command(PostgresSql.HandBack)
                .Bind("id", lease.TaskId)
                .Bind("attempt", lease.Attempt)
                .Bind("silo", lease.SiloId)
                .Bind("now", turn.Now))
            {
                if (await command.ExecuteScalarAsync(ct).ConfigureAwait(false) is not long found)
                {
                    return false;
                }

                seq = found;
            }

            await ExecuteAsync(turn.Command(PostgresSql.FreeSlotsOfTask).Bind("seq", seq), ct).ConfigureAwait(false);
            await AddEventAsync(turn, seq, TaskStatus.Running, TaskStatus.Queued, lease.SiloId, lease.Attempt, reason, ct).ConfigureAwait(false);
            turn.Move(TaskStatus.Running, TaskStatus.Queued);
            turn.WorkAvailable = true;
            return true;
        }, cancellationToken);
    }

    /// <summary>Free slots (up to this silo's limit) and ready tasks, both locked with SKIP LOCKED
    /// in this one transaction: two silos claiming at once take disjoint slots and tasks, and
    /// neither waits for the other.</summary>
    private async Task<IReadOnlyList<AttemptLease>> ClaimAsync(PostgresTurn turn, string siloId, int max, CancellationToken cancellationToken)
    {
        var slots = new List<int>(Math.Min(max, 256));
        await using (var command = turn.Command(PostgresSql.FreeSlots).Bind("limit", _scheduler.MaxConcurrentTasks).Bind("max", max))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                slots.Add(reader.GetInt32(0));
            }
        }

        if (slots.Count == 0)
        {
            return [];
        }

        var ready = new List<(long Seq, string Id, string Type, long Duration, string? Payload, long? Timeout, int Attempts, int Max)>(slots.Count);
        await using (var command = turn.Command(PostgresSql.ReadyTasks).Bind("max", slots.Count))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                ready.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3),
                    reader.GetStringOrNull(4), reader.GetInt64OrNull(5), reader.GetInt32(6), reader.GetInt32(7)));
            }
        }

        if (ready.Count == 0)
        {
            return [];
        }

        // Read the clock again now that the ready tasks are locked: the turns that made them ready
        // committed before this statement, so a start stamped now never precedes the completion
        // of the dependency that released it.
        if (_databaseClock)
        {
            turn.Now = await ReadClockAsync(turn.Connection, turn.Transaction, cancellationToken).ConfigureAwait(false);
        }

        var expires = turn.Now + _scheduler.LeaseDuration;
        var leases = new List<AttemptLease>(ready.Count);
        for (var i = 0; i < ready.Count; i++)
        {
            var task = ready[i];
            var attempt = task.Attempts + 1;
            await ExecuteAsync(turn.Command(PostgresSql.StartAttempt).Bind("seq", task.Seq).Bind("silo", siloId).Bind("now", turn.Now), cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(turn.Command(PostgresSql.HoldSlot).Bind("seq", task.Seq).Bind("attempt", attempt).Bind("silo", siloId)
                .Bind("now", turn.Now).Bind("expires", expires).Bind("slot", slots[i]), cancellationToken).ConfigureAwait(false);
            await AddEventAsync(turn, task.Seq, TaskStatus.Queued, TaskStatus.Running, siloId, attempt, $"attempt {attempt} of {task.Max} started", cancellationToken).ConfigureAwait(false);
            leases.Add(new AttemptLease(task.Id, attempt, task.Max, siloId, slots[i], task.Type, task.Duration,
                ParseJson(task.Payload), task.Timeout, turn.Now));
        }

        turn.Count(TaskStatus.Queued, -leases.Count);
        turn.Count(TaskStatus.Running, leases.Count);
        return leases;
    }

    /// <summary>Ends the live attempt of a task (fenced on attempt and silo, the task row locked),
    /// frees its slot, and moves it and its dependents on: a success releases dependents; a failure
    /// with attempts left waits out its backoff SCHEDULED (or goes straight back to QUEUED without
    /// one); the last failure ends FAILED and makes every unfinished descendant UPSTREAM_FAILED.</summary>
    private static async Task<bool> EndAttemptAsync(PostgresTurn turn, string taskId, int attempt, int maxAttempts, string siloId,
        bool succeeded, JsonElement? result, string? error, CancellationToken cancellationToken)
    {
        long seq, backoffMs, backoffMaxMs;
        await using (var command = turn.Command(PostgresSql.FenceAttempt).Bind("id", taskId).Bind("attempt", attempt).Bind("silo", siloId))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            (seq, backoffMs, backoffMaxMs) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }

        var next = TaskStateMachine.AfterAttempt(succeeded, attempt, maxAttempts);
        var backoff = TimeSpan.Zero;
        if (next == TaskStatus.Queued)
        {
            backoff = TaskStateMachine.Backoff(attempt, backoffMs, backoffMaxMs, Random.Shared.NextDouble());
            next = TaskStateMachine.Retrying(backoff);
        }

        await ExecuteAsync(turn.Command(PostgresSql.EndAttempt)
            .Bind("status", next.ToName())
            .Bind("completed_at", next.IsTerminal() ? turn.Now : null)
            .Bind("queued_at", next == TaskStatus.Queued ? turn.Now : null)
            .Bind("result", succeeded ? result?.GetRawText() : null)
            .Bind("error", error)
            .Bind("seq", seq), cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(turn.Command(PostgresSql.FreeSlotsOfTask).Bind("seq", seq), cancellationToken).ConfigureAwait(false);
        var reason = next switch
        {
            TaskStatus.Completed => "completed",
            TaskStatus.Queued => $"attempt {attempt} of {maxAttempts} failed, retrying now: {error}",
            TaskStatus.Scheduled => $"attempt {attempt} of {maxAttempts} failed, retrying after {backoff.TotalMilliseconds:0} ms: {error}",
            _ => $"attempt {attempt} of {maxAttempts} failed, no attempts left: {error}",
        };
        await AddEventAsync(turn, seq, TaskStatus.Running, next, siloId, attempt, reason, cancellationToken).ConfigureAwait(false);
        turn.Move(TaskStatus.Running, next);
        turn.WorkAvailable = true;

        if (next == TaskStatus.Scheduled)
        {
            await SetReadyReminderAsync(turn, seq, turn.Now + backoff, BackoffOver, cancellationToken).ConfigureAwait(false);
        }
        else if (next == TaskStatus.Completed)
        {
            turn.CountCompletions(1);
            await ReleaseDependentsAsync(turn, seq, cancellationToken).ConfigureAwait(false);
        }
        else if (TaskStateMachine.FailsDependents(next))
        {
            await FailDescendantsAsync(turn, seq, taskId, next, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private static async Task ReleaseDependentsAsync(PostgresTurn turn, long seq, CancellationToken cancellationToken)
    {
        var released = new List<(long Seq, DateTimeOffset? RunAt)>();
        await using (var command = turn.Command(PostgresSql.ReleaseDependents).Bind("seq", seq))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.GetInt32(1) == 0)
                {
                    released.Add((reader.GetInt64(0), reader.GetTimeOrNull(2)));
                }
            }
        }

        foreach (var (dependent, runAt) in released)
        {
            var status = TaskStateMachine.Released(runAt, turn.Now);
            await ExecuteAsync(turn.Command(PostgresSql.MarkReleased).Bind("status", status.ToName()).Bind("now", turn.Now).Bind("seq", dependent), cancellationToken).ConfigureAwait(false);
            await AddEventAsync(turn, dependent, TaskStatus.Waiting, status, null, null, "all dependencies completed", cancellationToken).ConfigureAwait(false);
            turn.Move(TaskStatus.Waiting, status);
            if (status == TaskStatus.Scheduled)
            {
                await SetReadyReminderAsync(turn, dependent, runAt!.Value, RunAtReached, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task FailDescendantsAsync(PostgresTurn turn, long seq, string taskId, TaskStatus cause, CancellationToken cancellationToken)
    {
        var doomed = new List<(long Seq, TaskStatus Status)>();
        await using (var command = turn.Command(PostgresSql.UnfinishedDescendants).Bind("seq", seq))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                doomed.Add((reader.GetInt64(0), TaskStatusNames.Parse(reader.GetString(1))));
            }
        }

        var error = $"upstream task '{taskId}' ended {cause.ToName()}";
        foreach (var (descendant, status) in doomed)
        {
            await ExecuteAsync(turn.Command(PostgresSql.MarkUpstreamFailed).Bind("now", turn.Now).Bind("error", error).Bind("seq", descendant), cancellationToken).ConfigureAwait(false);
            await AddEventAsync(turn, descendant, status, TaskStatus.UpstreamFailed, null, null, error, cancellationToken).ConfigureAwait(false);
            turn.Move(status, TaskStatus.UpstreamFailed);
        }
    }

    private static async Task<int> ExecuteAsync(Npgsql.NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using (command)
        {
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    internal static JsonElement? ParseJson(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
