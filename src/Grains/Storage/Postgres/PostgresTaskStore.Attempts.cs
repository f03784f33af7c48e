using System.Text.Json;
using Npgsql;

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
            // Every task row first (the completions in one statement, then each failure), every slot
            // row last and in slot order, in one statement: the heartbeat's renewal locks slots in
            // slot order too, and a cancel locks its task before its slot, so no turn waits in a cycle.
            var accepted = new bool[finished.Count];
            var freed = new List<long>(finished.Count);
            await CompleteAllAsync(turn, finished, accepted, freed, ct).ConfigureAwait(false);
            for (var i = 0; i < finished.Count; i++)
            {
                var (lease, outcome) = (finished[i].Lease, finished[i]);
                if (!outcome.Succeeded)
                {
                    accepted[i] = await EndAttemptAsync(turn, lease.TaskId, lease.Attempt, lease.MaxAttempts, lease.SiloId,
                        succeeded: false, result: null, outcome.Error, ct, freed).ConfigureAwait(false);
                }
            }

            if (freed.Count > 0)
            {
                await ExecuteAsync(turn.Command(PostgresSql.FreeSlotsOfTasks).Bind("seqs", freed.ToArray()), ct).ConfigureAwait(false);
            }

            var leases = max > 0 ? await ClaimAsync(turn, siloId, max, ct).ConfigureAwait(false) : [];
            return new HandOver(accepted, leases);
        }, cancellationToken);
    }

    /// <summary>Records every successful outcome of <paramref name="finished"/> in one fenced UPDATE
    /// and their events in one INSERT, releases the dependents of those that have any, and adds the
    /// completed tasks to <paramref name="freed"/>, whose slots the caller frees.</summary>
    private static async Task CompleteAllAsync(PostgresTurn turn, IReadOnlyList<AttemptOutcome> finished, bool[] accepted, List<long> freed,
        CancellationToken cancellationToken)
    {
        var successes = Enumerable.Range(0, finished.Count).Where(i => finished[i].Succeeded).ToList();
        if (successes.Count == 0)
        {
            return;
        }

        var index = successes.ToDictionary(i => finished[i].Lease.TaskId, StringComparer.Ordinal);
        var released = new List<long>();
        var (seqs, attempts, silos) = (new List<long>(successes.Count), new List<int>(successes.Count), new List<string>(successes.Count));
        await using (var command = turn.Command(PostgresSql.CompleteAttempts)
            .Bind("ids", successes.Select(i => finished[i].Lease.TaskId).ToArray())
            .Bind("attempts", successes.Select(i => finished[i].Lease.Attempt).ToArray())
            .Bind("silos", successes.Select(i => finished[i].Lease.SiloId).ToArray())
            .Bind("results", successes.Select(i => finished[i].Result?.GetRawText()).ToArray())
            .Bind("now", turn.Now))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var seq = reader.GetInt64(0);
                var lease = finished[index[reader.GetString(1)]].Lease;
                accepted[index[lease.TaskId]] = true;
                seqs.Add(seq);
                attempts.Add(lease.Attempt);
                silos.Add(lease.SiloId);
                if (reader.GetBoolean(2))
                {
                    released.Add(seq);
                }
            }
        }

        if (seqs.Count == 0)
        {
            return;
        }

        await ExecuteAsync(turn.Command(PostgresSql.CompletionEvents)
            .Bind("seqs", seqs.ToArray()).Bind("attempts", attempts.ToArray()).Bind("silos", silos.ToArray()).Bind("now", turn.Now), cancellationToken).ConfigureAwait(false);
        freed.AddRange(seqs);
        turn.Count(TaskStatus.Running, -seqs.Count);
        turn.Count(TaskStatus.Completed, seqs.Count);
        turn.CountCompletions(seqs.Count);
        turn.WorkAvailable = true;
        if (released.Count > 0)
        {
            await ReleaseDependentsAsync(turn, [.. released], cancellationToken).ConfigureAwait(false);
        }
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
        var (seqs, attempts, maxes, slotNos) = (new long[ready.Count], new int[ready.Count], new int[ready.Count], new int[ready.Count]);
        for (var i = 0; i < ready.Count; i++)
        {
            var task = ready[i];
            (seqs[i], attempts[i], maxes[i], slotNos[i]) = (task.Seq, task.Attempts + 1, task.Max, slots[i]);
            leases.Add(new AttemptLease(task.Id, attempts[i], task.Max, siloId, slots[i], task.Type, task.Duration,
                ParseJson(task.Payload), task.Timeout, turn.Now));
        }

        await using (var batch = new NpgsqlBatch(turn.Connection, turn.Transaction))
        {
            batch.BatchCommands.Add(PostgresCommandExtensions.Statement(PostgresSql.StartAttempts, ("seqs", seqs), ("silo", siloId), ("now", turn.Now)));
            batch.BatchCommands.Add(PostgresCommandExtensions.Statement(PostgresSql.HoldSlots,
                ("slots", slotNos), ("seqs", seqs), ("attempts", attempts), ("silo", siloId), ("now", turn.Now), ("expires", expires)));
            batch.BatchCommands.Add(PostgresCommandExtensions.Statement(PostgresSql.ClaimEvents,
                ("seqs", seqs), ("attempts", attempts), ("maxes", maxes), ("silo", siloId), ("now", turn.Now)));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        turn.Count(TaskStatus.Queued, -leases.Count);
        turn.Count(TaskStatus.Running, leases.Count);
        return leases;
    }

    /// <summary>Ends the live attempt of a task (fenced on attempt and silo, the task row locked),
    /// frees its slot, and moves it and its dependents on: a success releases dependents; a failure
    /// with attempts left waits out its backoff SCHEDULED (or goes straight back to QUEUED without
    /// one); the last failure ends FAILED and makes every unfinished descendant UPSTREAM_FAILED.</summary>
    /// <param name="freed">When given, the task is added to it and its slot is left for the caller
    /// to free together with others, in slot order.</param>
    private static async Task<bool> EndAttemptAsync(PostgresTurn turn, string taskId, int attempt, int maxAttempts, string siloId,
        bool succeeded, JsonElement? result, string? error, CancellationToken cancellationToken, List<long>? freed = null)
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
        if (freed is null)
        {
            await ExecuteAsync(turn.Command(PostgresSql.FreeSlotsOfTask).Bind("seq", seq), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            freed.Add(seq);
        }

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
            await ReleaseDependentsAsync(turn, [seq], cancellationToken).ConfigureAwait(false);
        }
        else if (TaskStateMachine.FailsDependents(next))
        {
            await FailDescendantsAsync(turn, seq, taskId, next, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Counts the completion of <paramref name="completed"/> against their dependents and
    /// moves on those left with no pending dependency: QUEUED, or SCHEDULED until their run_at.</summary>
    private static async Task ReleaseDependentsAsync(PostgresTurn turn, long[] completed, CancellationToken cancellationToken)
    {
        var released = new List<(long Seq, DateTimeOffset? RunAt)>();
        await using (var command = turn.Command(PostgresSql.ReleaseDependents).Bind("seqs", completed))
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
