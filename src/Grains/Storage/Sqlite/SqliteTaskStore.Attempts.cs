using System.Text.Json;

namespace OrleansScheduler.Grains.Storage.Sqlite;

public sealed partial class SqliteTaskStore
{
    public Task<IReadOnlyList<AttemptLease>> ClaimAsync(string siloId, int max, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(siloId);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return Writer.RunAsync(turn => Claim(turn, siloId, max, _scheduler.LeaseDuration));
    }

    public Task<bool> ReportAsync(AttemptOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return Writer.RunAsync(turn =>
        {
            if (!outcome.Succeeded)
            {
                return FailAttempt(turn, outcome.Lease.TaskId, outcome.Lease.Attempt, outcome.Lease.MaxAttempts, outcome.Lease.SiloId, outcome.Error!);
            }

            var accepted = new bool[1];
            CompleteAll(turn, [outcome], accepted);
            return accepted[0];
        });
    }

    /// <summary>One turn: every outcome is fenced and recorded, then the freed slots go straight to
    /// the next ready tasks for the same silo.</summary>
    public Task<HandOver> ReleaseAndClaimAsync(IReadOnlyList<AttemptOutcome> finished, string siloId, int max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(finished);
        ArgumentException.ThrowIfNullOrEmpty(siloId);
        return Writer.RunAsync(turn =>
        {
            var workBefore = turn.WorkAvailable;
            var accepted = new bool[finished.Count];
            CompleteAll(turn, finished, accepted);
            for (var i = 0; i < finished.Count; i++)
            {
                var (lease, outcome) = (finished[i].Lease, finished[i]);
                if (!outcome.Succeeded)
                {
                    accepted[i] = FailAttempt(turn, lease.TaskId, lease.Attempt, lease.MaxAttempts, lease.SiloId, outcome.Error!);
                }
            }

            var leases = max > 0 ? Claim(turn, siloId, max, _scheduler.LeaseDuration) : [];

            // The turn's own claim took what it freed and released. Only if it took all it could is
            // there perhaps more for the dispatcher; otherwise waking it would cost a claim turn
            // that finds nothing (one per report under a steady flow of completions).
            turn.WorkAvailable = workBefore || max == 0 || leases.Count == max;
            return new HandOver(accepted, leases);
        });
    }

    public Task<bool> HandBackAsync(AttemptLease lease, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return Writer.RunAsync(turn =>
        {
            using var reader = turn.Command(SqliteSql.HandBack)
                .Bind("$id", lease.TaskId)
                .Bind("$attempt", lease.Attempt)
                .Bind("$silo", lease.SiloId)
                .Bind("$now", turn.NowMs)
                .ExecuteReader();
            if (!reader.Read())
            {
                return false;
            }

            var seq = reader.GetInt64(0);
            reader.Close();
            turn.Command(SqliteSql.FreeSlotsOfTask).Bind("$seq", seq).ExecuteNonQuery();
            AddEvent(turn, seq, TaskStatus.Running, TaskStatus.Queued, lease.SiloId, lease.Attempt, reason);
            turn.Move(TaskStatus.Running, TaskStatus.Queued);
            turn.WorkAvailable = true;
            return true;
        });
    }

    private static IReadOnlyList<AttemptLease> Claim(SqliteTurn turn, string siloId, int max, TimeSpan leaseDuration)
    {
        var ready = (int)(long)turn.Command(SqliteSql.ReadyCount).Bind("$max", max).ExecuteScalar()!;
        if (ready == 0)
        {
            return [];
        }

        var slots = new List<int>(Math.Min(ready, 256));
        using (var reader = turn.Command(SqliteSql.FreeSlots).Bind("$max", ready).ExecuteReader())
        {
            while (reader.Read())
            {
                slots.Add(reader.GetInt32(0));
            }
        }

        if (slots.Count == 0)
        {
            return [];
        }

        var claimed = new List<(int Priority, long Seq, AttemptLease Lease)>(slots.Count);
        using (var reader = turn.Command(SqliteSql.ClaimReady)
            .Bind("$silo", siloId).Bind("$now", turn.NowMs).Bind("$max", slots.Count).ExecuteReader())
        {
            while (reader.Read())
            {
                var lease = new AttemptLease(reader.GetString(1), reader.GetInt32(6), reader.GetInt32(7), siloId, Slot: 0,
                    reader.GetString(2), reader.GetInt64(3), ParseJson(reader.GetStringOrNull(4)), reader.GetInt64OrNull(5), turn.Now);
                claimed.Add((reader.GetInt32(8), reader.GetInt64(0), lease));
            }
        }

        if (claimed.Count == 0)
        {
            return [];
        }

        // RETURNING gives no order: the leases start in claim order, each on the next free slot.
        claimed.Sort(static (a, b) => a.Priority != b.Priority ? b.Priority.CompareTo(a.Priority) : a.Seq.CompareTo(b.Seq));
        var leases = new AttemptLease[claimed.Count];
        var json = turn.Json;
        json.WriteStartArray();
        for (var i = 0; i < claimed.Count; i++)
        {
            var (_, seq, lease) = claimed[i];
            leases[i] = lease with { Slot = slots[i] };
            json.WriteStartArray();
            json.WriteNumberValue(slots[i]);
            json.WriteNumberValue(seq);
            json.WriteNumberValue(lease.Attempt);
            json.WriteNumberValue(lease.MaxAttempts);
            json.WriteEndArray();
        }

        json.WriteEndArray();
        var claims = turn.TakeJson();
        var expires = (turn.Now + leaseDuration).ToUnixTimeMilliseconds();
        turn.Command(SqliteSql.HoldSlots).Bind("$claims", claims).Bind("$silo", siloId).Bind("$now", turn.NowMs)
            .Bind("$expires", expires).ExecuteNonQuery();
        turn.Command(SqliteSql.ClaimEvents).Bind("$claims", claims).Bind("$silo", siloId).Bind("$now", turn.NowMs).ExecuteNonQuery();
        turn.Count(TaskStatus.Queued, -leases.Length);
        turn.Count(TaskStatus.Running, leases.Length);
        return leases;
    }

    /// <summary>Records every successful outcome of <paramref name="finished"/> in one fenced UPDATE
    /// (only the live attempt of its silo is accepted), frees their slots and writes their events in
    /// two more statements, and releases the dependents of those that have any.</summary>
    private static void CompleteAll(SqliteTurn turn, IReadOnlyList<AttemptOutcome> finished, bool[] accepted)
    {
        var index = new Dictionary<string, int>(finished.Count, StringComparer.Ordinal);
        var json = turn.Json;
        json.WriteStartArray();
        for (var i = 0; i < finished.Count; i++)
        {
            var outcome = finished[i];
            if (!outcome.Succeeded)
            {
                continue;
            }

            index[outcome.Lease.TaskId] = i;
            json.WriteStartArray();
            json.WriteStringValue(outcome.Lease.TaskId);
            json.WriteNumberValue(outcome.Lease.Attempt);
            json.WriteStringValue(outcome.Lease.SiloId);
            if (outcome.Result is { } result)
            {
                result.WriteTo(json);
            }

            json.WriteEndArray();
        }

        json.WriteEndArray();
        var done = turn.TakeJson();
        if (index.Count == 0)
        {
            return;
        }

        var released = new List<long>();
        var count = 0;
        using (var reader = turn.Command(SqliteSql.CompleteAttempts).Bind("$done", done).Bind("$now", turn.NowMs).ExecuteReader())
        {
            json.WriteStartArray();
            while (reader.Read())
            {
                var seq = reader.GetInt64(0);
                var i = index[reader.GetString(1)];
                accepted[i] = true;
                count++;
                json.WriteStartArray();
                json.WriteNumberValue(seq);
                json.WriteNumberValue(finished[i].Lease.Attempt);
                json.WriteStringValue(finished[i].Lease.SiloId);
                json.WriteEndArray();
                if (reader.GetBoolean(2))
                {
                    released.Add(seq);
                }
            }

            json.WriteEndArray();
        }

        var completed = turn.TakeJson();
        if (count == 0)
        {
            return;
        }

        turn.Command(SqliteSql.FreeSlotsOfTasks).Bind("$completed", completed).ExecuteNonQuery();
        turn.Command(SqliteSql.CompletionEvents).Bind("$completed", completed).Bind("$now", turn.NowMs).ExecuteNonQuery();
        turn.Count(TaskStatus.Running, -count);
        turn.Count(TaskStatus.Completed, count);
        turn.CountCompletions(count);
        turn.WorkAvailable = true;
        if (released.Count > 0)
        {
            ReleaseDependents(turn, released);
        }
    }

    /// <summary>Ends the live attempt of a task as failed (fenced on attempt and silo) and frees its
    /// slot: with attempts left the task waits out its backoff SCHEDULED (or goes straight back to
    /// QUEUED without one); the last failure ends FAILED and makes every unfinished descendant
    /// UPSTREAM_FAILED. Successes go through <see cref="CompleteAll"/>.</summary>
    private static bool FailAttempt(SqliteTurn turn, string taskId, int attempt, int maxAttempts, string siloId, string error)
    {
        long seq, backoffMs, backoffMaxMs;
        using (var reader = turn.Command(SqliteSql.FenceAttempt)
            .Bind("$id", taskId).Bind("$attempt", attempt).Bind("$silo", siloId).ExecuteReader())
        {
            if (!reader.Read())
            {
                return false;
            }

            (seq, backoffMs, backoffMaxMs) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }

        var next = TaskStateMachine.AfterAttempt(succeeded: false, attempt, maxAttempts);
        var backoff = TimeSpan.Zero;
        if (next == TaskStatus.Queued)
        {
            backoff = TaskStateMachine.Backoff(attempt, backoffMs, backoffMaxMs, Random.Shared.NextDouble());
            next = TaskStateMachine.Retrying(backoff);
        }

        turn.Command(SqliteSql.FailAttempt)
            .Bind("$status", next.ToName())
            .Bind("$completed_at", next.IsTerminal() ? turn.NowMs : null)
            .Bind("$queued_at", next == TaskStatus.Queued ? turn.NowMs : null)
            .Bind("$error", error)
            .Bind("$seq", seq)
            .ExecuteNonQuery();
        turn.Command(SqliteSql.FreeSlotsOfTask).Bind("$seq", seq).ExecuteNonQuery();
        var reason = next switch
        {
            TaskStatus.Queued => $"attempt {attempt} of {maxAttempts} failed, retrying now: {error}",
            TaskStatus.Scheduled => $"attempt {attempt} of {maxAttempts} failed, retrying after {backoff.TotalMilliseconds:0} ms: {error}",
            _ => $"attempt {attempt} of {maxAttempts} failed, no attempts left: {error}",
        };
        AddEvent(turn, seq, TaskStatus.Running, next, siloId, attempt, reason);
        turn.Move(TaskStatus.Running, next);
        turn.WorkAvailable = true;

        if (next == TaskStatus.Scheduled)
        {
            SetReadyReminder(turn, seq, turn.Now + backoff, BackoffOver);
        }
        else if (TaskStateMachine.FailsDependents(next))
        {
            FailDescendants(turn, seq, taskId, next);
        }

        return true;
    }

    /// <summary>Counts the completion of <paramref name="completed"/> against their dependents and
    /// moves on those left with no pending dependency: QUEUED, or SCHEDULED until their run_at.</summary>
    private static void ReleaseDependents(SqliteTurn turn, List<long> completed)
    {
        var json = turn.Json;
        json.WriteStartArray();
        foreach (var seq in completed)
        {
            json.WriteNumberValue(seq);
        }

        json.WriteEndArray();
        var released = new List<(long Seq, long? RunAt)>();
        using (var reader = turn.Command(SqliteSql.ReleaseDependents).Bind("$completed", turn.TakeJson()).ExecuteReader())
        {
            while (reader.Read())
            {
                if (reader.GetInt64(1) == 0)
                {
                    released.Add((reader.GetInt64(0), reader.GetInt64OrNull(2)));
                }
            }
        }

        foreach (var (dependent, runAt) in released)
        {
            var status = TaskStateMachine.Released(
                runAt is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null, turn.Now);
            turn.Command(SqliteSql.MarkReleased).Bind("$status", status.ToName()).Bind("$now", turn.NowMs).Bind("$seq", dependent).ExecuteNonQuery();
            AddEvent(turn, dependent, TaskStatus.Waiting, status, null, null, "all dependencies completed");
            turn.Move(TaskStatus.Waiting, status);
            if (status == TaskStatus.Scheduled)
            {
                SetReadyReminder(turn, dependent, DateTimeOffset.FromUnixTimeMilliseconds(runAt!.Value), RunAtReached);
            }
        }
    }

    private static void FailDescendants(SqliteTurn turn, long seq, string taskId, TaskStatus cause)
    {
        var doomed = new List<(long Seq, TaskStatus Status)>();
        using (var reader = turn.Command(SqliteSql.UnfinishedDescendants).Bind("$seq", seq).ExecuteReader())
        {
            while (reader.Read())
            {
                doomed.Add((reader.GetInt64(0), TaskStatusNames.Parse(reader.GetString(1))));
            }
        }

        var error = $"upstream task '{taskId}' ended {cause.ToName()}";
        var mark = turn.Command(SqliteSql.MarkUpstreamFailed);
        foreach (var (descendant, status) in doomed)
        {
            mark.Bind("$now", turn.NowMs).Bind("$error", error).Bind("$seq", descendant).ExecuteNonQuery();
            AddEvent(turn, descendant, status, TaskStatus.UpstreamFailed, null, null, error);
            turn.Move(status, TaskStatus.UpstreamFailed);
        }
    }

    /// <summary>At start-up no attempt of this database can be live (the lock file says this is the
    /// only process), so every RUNNING one was lost with a dead process: it counts as a failed
    /// attempt and the task is re-queued, or FAILED when none are left. Then the slot table is
    /// sized to the configured limit.</summary>
    private int RecoverAndSizeSlots(SqliteTurn turn)
    {
        var orphans = new List<(string Id, int Attempt, int Max, string Silo)>();
        using (var reader = turn.Command(SqliteSql.RunningTasks).ExecuteReader())
        {
            while (reader.Read())
            {
                orphans.Add((reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetStringOrNull(3) ?? ""));
            }
        }

        foreach (var (id, attempt, max, silo) in orphans)
        {
            FailAttempt(turn, id, attempt, max, silo,
                error: $"attempt lost: silo {silo} stopped without reporting it (process crash); recovered at start-up");
        }

        turn.Command(SqliteSql.DeclareDead).Bind("$since", long.MaxValue).ExecuteNonQuery();

        var limit = _scheduler.MaxConcurrentTasks;
        turn.Command(SqliteSql.ResizeSlotsDown).Bind("$limit", limit).ExecuteNonQuery();
        var add = turn.Command(SqliteSql.AddSlot);
        for (var slot = 1; slot <= limit; slot++)
        {
            add.Bind("$slot", slot).ExecuteNonQuery();
        }

        turn.WorkAvailable = true;
        return orphans.Count;
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
