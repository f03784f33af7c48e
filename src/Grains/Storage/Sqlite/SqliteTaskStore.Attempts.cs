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
        return Writer.RunAsync(turn => EndAttempt(turn, outcome.Lease.TaskId, outcome.Lease.Attempt, outcome.Lease.MaxAttempts,
            outcome.Lease.SiloId, outcome.Succeeded, outcome.Result, outcome.Error));
    }

    /// <summary>One turn: every outcome is fenced and recorded, then the freed slots go straight to
    /// the next ready tasks for the same silo.</summary>
    public Task<HandOver> ReleaseAndClaimAsync(IReadOnlyList<AttemptOutcome> finished, string siloId, int max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(finished);
        ArgumentException.ThrowIfNullOrEmpty(siloId);
        return Writer.RunAsync(turn =>
        {
            var accepted = new bool[finished.Count];
            for (var i = 0; i < finished.Count; i++)
            {
                var (lease, outcome) = (finished[i].Lease, finished[i]);
                accepted[i] = EndAttempt(turn, lease.TaskId, lease.Attempt, lease.MaxAttempts, lease.SiloId, outcome.Succeeded, outcome.Result, outcome.Error);
            }

            var leases = max > 0 ? Claim(turn, siloId, max, _scheduler.LeaseDuration) : [];
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
        var slots = new List<int>(Math.Min(max, 256));
        using (var reader = turn.Command(SqliteSql.FreeSlots).Bind("$max", max).ExecuteReader())
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

        var ready = new List<(long Seq, string Id, string Type, long Duration, string? Payload, long? Timeout, int Attempts, int Max)>(slots.Count);
        using (var reader = turn.Command(SqliteSql.ReadyTasks).Bind("$max", slots.Count).ExecuteReader())
        {
            while (reader.Read())
            {
                ready.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3),
                    reader.GetStringOrNull(4), reader.GetInt64OrNull(5), reader.GetInt32(6), reader.GetInt32(7)));
            }
        }

        if (ready.Count == 0)
        {
            return [];
        }

        var start = turn.Command(SqliteSql.StartAttempt);
        var hold = turn.Command(SqliteSql.HoldSlot);
        var expires = (turn.Now + leaseDuration).ToUnixTimeMilliseconds();
        var leases = new List<AttemptLease>(ready.Count);
        for (var i = 0; i < ready.Count; i++)
        {
            var task = ready[i];
            var attempt = task.Attempts + 1;
            start.Bind("$seq", task.Seq).Bind("$silo", siloId).Bind("$now", turn.NowMs).ExecuteNonQuery();
            hold.Bind("$seq", task.Seq).Bind("$attempt", attempt).Bind("$silo", siloId).Bind("$now", turn.NowMs)
                .Bind("$expires", expires).Bind("$slot", slots[i]).ExecuteNonQuery();
            AddEvent(turn, task.Seq, TaskStatus.Queued, TaskStatus.Running, siloId, attempt, $"attempt {attempt} of {task.Max} started");
            leases.Add(new AttemptLease(task.Id, attempt, task.Max, siloId, slots[i], task.Type, task.Duration,
                ParseJson(task.Payload), task.Timeout, turn.Now));
        }

        turn.Count(TaskStatus.Queued, -leases.Count);
        turn.Count(TaskStatus.Running, leases.Count);
        return leases;
    }

    /// <summary>Ends the live attempt of a task (fenced on attempt and silo), frees its slot, and
    /// moves it and its dependents on: a success releases dependents; a failure with attempts left
    /// waits out its backoff SCHEDULED (or goes straight back to QUEUED without one); the last
    /// failure ends FAILED and makes every unfinished descendant UPSTREAM_FAILED.</summary>
    private static bool EndAttempt(SqliteTurn turn, string taskId, int attempt, int maxAttempts, string siloId,
        bool succeeded, JsonElement? result, string? error)
    {
        if (succeeded)
        {
            return Complete(turn, taskId, attempt, siloId, result);
        }

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

        var next = TaskStateMachine.AfterAttempt(succeeded, attempt, maxAttempts);
        var backoff = TimeSpan.Zero;
        if (next == TaskStatus.Queued)
        {
            backoff = TaskStateMachine.Backoff(attempt, backoffMs, backoffMaxMs, Random.Shared.NextDouble());
            next = TaskStateMachine.Retrying(backoff);
        }

        turn.Command(SqliteSql.EndAttempt)
            .Bind("$status", next.ToName())
            .Bind("$completed_at", next.IsTerminal() ? turn.NowMs : null)
            .Bind("$queued_at", next == TaskStatus.Queued ? turn.NowMs : null)
            .Bind("$result", succeeded ? result?.GetRawText() : null)
            .Bind("$error", error)
            .Bind("$seq", seq)
            .ExecuteNonQuery();
        turn.Command(SqliteSql.FreeSlotsOfTask).Bind("$seq", seq).ExecuteNonQuery();
        var reason = next switch
        {
            TaskStatus.Completed => "completed",
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
        else if (next == TaskStatus.Completed)
        {
            ReleaseDependents(turn, seq);
        }
        else if (TaskStateMachine.FailsDependents(next))
        {
            FailDescendants(turn, seq, taskId, next);
        }

        return true;
    }

    /// <summary>The common case in one statement: fence, COMPLETED, and whether anything depends on
    /// the task, so a task without dependents costs no release query.</summary>
    private static bool Complete(SqliteTurn turn, string taskId, int attempt, string siloId, JsonElement? result)
    {
        long seq;
        bool hasDependents;
        using (var reader = turn.Command(SqliteSql.CompleteAttempt)
            .Bind("$now", turn.NowMs)
            .Bind("$result", result?.GetRawText())
            .Bind("$id", taskId)
            .Bind("$attempt", attempt)
            .Bind("$silo", siloId)
            .ExecuteReader())
        {
            if (!reader.Read())
            {
                return false;
            }

            (seq, hasDependents) = (reader.GetInt64(0), reader.GetBoolean(1));
        }

        turn.Command(SqliteSql.FreeSlotsOfTask).Bind("$seq", seq).ExecuteNonQuery();
        AddEvent(turn, seq, TaskStatus.Running, TaskStatus.Completed, siloId, attempt, "completed");
        turn.Move(TaskStatus.Running, TaskStatus.Completed);
        turn.WorkAvailable = true;
        if (hasDependents)
        {
            ReleaseDependents(turn, seq);
        }

        return true;
    }

    private static void ReleaseDependents(SqliteTurn turn, long seq)
    {
        var released = new List<(long Seq, long? RunAt)>();
        using (var reader = turn.Command(SqliteSql.ReleaseDependents).Bind("$seq", seq).ExecuteReader())
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
            EndAttempt(turn, id, attempt, max, silo, succeeded: false, result: null,
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
