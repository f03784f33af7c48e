namespace OrleansScheduler.Grains.Storage.Sqlite;

public sealed partial class SqliteTaskStore
{
    private const string RunAtReached = BlockedByReasons.RunAtReached;
    private const string BackoffOver = BlockedByReasons.BackoffOver;

    public Task<TaskStatus?> CancelAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return Writer.RunAsync(turn => Cancel(turn, id));
    }

    public Task<TaskStatus?> RetryAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return Writer.RunAsync(turn => Retry(turn, id));
    }

    public Task<DateTimeOffset?> FireRemindersAsync(int max, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return Writer.RunAsync(turn =>
        {
            turn.Command(SqliteSql.DeclareDead).Bind("$since", (turn.Now - _scheduler.SiloDeadAfter).ToUnixTimeMilliseconds()).ExecuteNonQuery();
            ReclaimExpiredLeases(turn, max);
            var nextReminder = FireReminders(turn, max);
            var nextLease = turn.Command(SqliteSql.NextLeaseExpiry).ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
            return nextReminder is null ? nextLease : nextLease is null ? nextReminder : (nextReminder < nextLease ? nextReminder : nextLease);
        });
    }

    private static TaskStatus? Cancel(SqliteTurn turn, string id)
    {
        if (ReadState(turn, id) is not { } task)
        {
            return null;
        }

        if (task.Status.IsTerminal())
        {
            throw new TaskConflictException(id,
                $"Task '{id}' is {task.Status.ToName()}; only WAITING, SCHEDULED, QUEUED or RUNNING tasks can be cancelled.");
        }

        turn.Command(SqliteSql.Cancel).Bind("$now", turn.NowMs).Bind("$error", "cancelled by user").Bind("$seq", task.Seq).ExecuteNonQuery();
        turn.Command(SqliteSql.DeleteReminders).Bind("$task", task.Seq).ExecuteNonQuery();
        if (task.Status == TaskStatus.Running)
        {
            // The slot is free at once; the attempt's report will no longer match the fence, and
            // the silo running it is told to cancel its handler after this commit.
            turn.Command(SqliteSql.FreeSlotsOfTask).Bind("$seq", task.Seq).ExecuteNonQuery();
            turn.CancelRunning(id);
            turn.WorkAvailable = true;
        }

        AddEvent(turn, task.Seq, task.Status, TaskStatus.Cancelled, task.Silo, task.Status == TaskStatus.Running ? task.Attempts : null, "cancelled by user");
        turn.Move(task.Status, TaskStatus.Cancelled);
        FailDescendants(turn, task.Seq, id, TaskStatus.Cancelled);
        return TaskStatus.Cancelled;
    }

    /// <summary>Re-arms a FAILED, CANCELLED or UPSTREAM_FAILED task with fresh attempts, and every
    /// UPSTREAM_FAILED task below it whose other dependencies have not failed goes back to WAITING:
    /// one call re-runs a failed subgraph.</summary>
    private TaskStatus? Retry(SqliteTurn turn, string id)
    {
        if (ReadState(turn, id) is not { } task)
        {
            return null;
        }

        if (task.Status is not (TaskStatus.Failed or TaskStatus.Cancelled or TaskStatus.UpstreamFailed))
        {
            throw new TaskConflictException(id,
                $"Task '{id}' is {task.Status.ToName()}; only FAILED, CANCELLED or UPSTREAM_FAILED tasks can be retried.");
        }

        var upstreams = ReadUpstreams(turn, task.Seq);
        var failed = upstreams.Where(u => TaskStateMachine.FailsDependents(u.Status)).ToList();
        if (failed.Count > 0)
        {
            throw new TaskConflictException(id,
                $"Task '{id}' depends on tasks that did not complete: {string.Join(", ", failed.Select(f => $"{f.Id} ({f.Status.ToName()})"))}; " +
                "retry those instead, which re-arms this task too.");
        }

        var pending = upstreams.Count(u => u.Status != TaskStatus.Completed);
        var runAt = task.RunAt is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        var status = TaskStateMachine.Initial(pending, upstreamFailed: false, runAt, turn.Now);
        Rearm(turn, task.Seq, task.Status, status, pending, "retried by user with fresh attempts");
        if (status == TaskStatus.Scheduled)
        {
            SetReadyReminder(turn, task.Seq, runAt!.Value, RunAtReached);
        }

        RearmDescendants(turn, task.Seq, id);
        return status;
    }

    /// <summary>The UPSTREAM_FAILED tasks below a re-armed one go back to WAITING once none of
    /// their dependencies is still failed; repeated until nothing changes, since a task may wait
    /// on several re-armed ones.</summary>
    private static void RearmDescendants(SqliteTurn turn, long seq, string id)
    {
        var candidates = new List<long>();
        using (var reader = turn.Command(SqliteSql.UpstreamFailedDescendants).Bind("$seq", seq).ExecuteReader())
        {
            while (reader.Read())
            {
                candidates.Add(reader.GetInt64(0));
            }
        }

        var upstreamsOf = candidates.ToDictionary(c => c, c => ReadUpstreams(turn, c));
        var rearmed = new HashSet<long> { seq };
        bool progress;
        do
        {
            progress = false;
            foreach (var candidate in candidates)
            {
                if (rearmed.Contains(candidate))
                {
                    continue;
                }

                var upstreams = upstreamsOf[candidate];
                if (upstreams.All(u => rearmed.Contains(u.Seq) || !TaskStateMachine.FailsDependents(u.Status)))
                {
                    var pending = upstreams.Count(u => rearmed.Contains(u.Seq) || u.Status != TaskStatus.Completed);
                    Rearm(turn, candidate, TaskStatus.UpstreamFailed, TaskStatus.Waiting, pending, $"upstream task '{id}' was retried");
                    rearmed.Add(candidate);
                    progress = true;
                }
            }
        }
        while (progress);
    }

    private static void Rearm(SqliteTurn turn, long seq, TaskStatus from, TaskStatus to, int pending, string reason)
    {
        turn.Command(SqliteSql.Rearm)
            .Bind("$status", to.ToName())
            .Bind("$pending", pending)
            .Bind("$queued_at", to == TaskStatus.Queued ? turn.NowMs : null)
            .Bind("$seq", seq)
            .ExecuteNonQuery();
        AddEvent(turn, seq, from, to, null, null, reason);
        turn.Move(from, to);
        if (to == TaskStatus.Queued)
        {
            turn.WorkAvailable = true;
        }
    }

    /// <summary>Delivers due reminders as turns and answers when the next one falls due.</summary>
    private static DateTimeOffset? FireReminders(SqliteTurn turn, int max)
    {
        var due = new List<(long Task, string Kind, string? Reason, TaskStatus Status)>();
        using (var reader = turn.Command(SqliteSql.DueReminders).Bind("$now", turn.NowMs).Bind("$max", max).ExecuteReader())
        {
            while (reader.Read())
            {
                due.Add((reader.GetInt64(0), reader.GetString(1), reader.GetStringOrNull(2), TaskStatusNames.Parse(reader.GetString(3))));
            }
        }

        foreach (var (task, kind, reason, status) in due)
        {
            turn.Command(SqliteSql.DeleteReminder).Bind("$task", task).Bind("$kind", kind).ExecuteNonQuery();
            if (kind == "ready" && status == TaskStatus.Scheduled)
            {
                turn.Command(SqliteSql.MarkReleased).Bind("$status", TaskStatus.Queued.ToName()).Bind("$now", turn.NowMs).Bind("$seq", task).ExecuteNonQuery();
                AddEvent(turn, task, TaskStatus.Scheduled, TaskStatus.Queued, null, null, reason ?? RunAtReached);
                turn.Move(TaskStatus.Scheduled, TaskStatus.Queued);
                turn.WorkAvailable = true;
            }
        }

        return turn.Command(SqliteSql.NextReminder).ExecuteScalar() is long next ? DateTimeOffset.FromUnixTimeMilliseconds(next) : null;
    }

    /// <summary>An attempt whose lease ran out without renewal lost its silo (dead, hung, or cut off
    /// from the database): it counts as failed, so a task that keeps killing silos ends FAILED
    /// instead of looping forever.</summary>
    private static void ReclaimExpiredLeases(SqliteTurn turn, int max)
    {
        var expired = new List<(string Id, int Attempt, int Max, string Silo)>();
        using (var reader = turn.Command(SqliteSql.ExpiredLeases).Bind("$now", turn.NowMs).Bind("$max", max).ExecuteReader())
        {
            while (reader.Read())
            {
                expired.Add((reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetStringOrNull(3) ?? ""));
            }
        }

        foreach (var (id, attempt, maxAttempts, silo) in expired)
        {
            FailAttempt(turn, id, attempt, maxAttempts, silo,
                error: $"attempt lost: the lease of silo {silo} expired without renewal (silo dead or unresponsive)");
        }
    }

    private static void SetReadyReminder(SqliteTurn turn, long seq, DateTimeOffset due, string reason)
    {
        turn.Command(SqliteSql.SetReminder)
            .Bind("$task", seq)
            .Bind("$kind", "ready")
            .Bind("$due", due.ToUnixTimeMilliseconds())
            .Bind("$reason", reason)
            .ExecuteNonQuery();
        turn.RemindersChanged = true;
    }

    private static (long Seq, TaskStatus Status, int Attempts, string? Silo, long? RunAt)? ReadState(SqliteTurn turn, string id)
    {
        using var reader = turn.Command(SqliteSql.TaskStateById).Bind("$id", id).ExecuteReader();
        return reader.Read()
            ? (reader.GetInt64(0), TaskStatusNames.Parse(reader.GetString(1)), reader.GetInt32(2), reader.GetStringOrNull(3), reader.GetInt64OrNull(4))
            : null;
    }

    private static List<(long Seq, string Id, TaskStatus Status)> ReadUpstreams(SqliteTurn turn, long seq)
    {
        var upstreams = new List<(long, string, TaskStatus)>();
        using var reader = turn.Command(SqliteSql.UpstreamsOf).Bind("$seq", seq).ExecuteReader();
        while (reader.Read())
        {
            upstreams.Add((reader.GetInt64(0), reader.GetString(1), TaskStatusNames.Parse(reader.GetString(2))));
        }

        return upstreams;
    }
}
