namespace OrleansScheduler.Grains.Storage.Postgres;

public sealed partial class PostgresTaskStore
{
    private const string RunAtReached = BlockedByReasons.RunAtReached;
    private const string BackoffOver = BlockedByReasons.BackoffOver;

    public Task<TaskStatus?> CancelAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return RunAsync((turn, ct) => CancelAsync(turn, id, ct), cancellationToken);
    }

    public Task<TaskStatus?> RetryAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return RunAsync((turn, ct) => RetryAsync(turn, id, ct), cancellationToken);
    }

    public Task<DateTimeOffset?> FireRemindersAsync(int max, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return RunAsync(async (turn, ct) =>
        {
            await ExecuteAsync(turn.Command(PostgresSql.DeclareDead).Bind("since", turn.Now - _scheduler.SiloDeadAfter), ct).ConfigureAwait(false);
            await ReclaimExpiredLeasesAsync(turn, max, ct).ConfigureAwait(false);
            // Slots above the limit that were held at start-up go once their attempts ended.
            await ResizeSlotsAsync(turn, addMissing: false, ct).ConfigureAwait(false);
            var nextReminder = await FireRemindersAsync(turn, max, ct).ConfigureAwait(false);
            var nextLease = await ScalarTimeAsync(turn, PostgresSql.NextLeaseExpiry, ct).ConfigureAwait(false);
            return nextReminder is null ? nextLease : nextLease is null ? nextReminder : (nextReminder < nextLease ? nextReminder : nextLease);
        }, cancellationToken);
    }

    private static async Task<TaskStatus?> CancelAsync(PostgresTurn turn, string id, CancellationToken cancellationToken)
    {
        if (await ReadStateAsync(turn, id, cancellationToken).ConfigureAwait(false) is not { } task)
        {
            return null;
        }

        if (task.Status.IsTerminal())
        {
            throw new TaskConflictException(id,
                $"Task '{id}' is {task.Status.ToName()}; only WAITING, SCHEDULED, QUEUED or RUNNING tasks can be cancelled.");
        }

        await ExecuteAsync(turn.Command(PostgresSql.Cancel).Bind("now", turn.Now).Bind("error", "cancelled by user").Bind("seq", task.Seq), cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(turn.Command(PostgresSql.DeleteReminders).Bind("task", task.Seq), cancellationToken).ConfigureAwait(false);
        if (task.Status == TaskStatus.Running)
        {
            // The slot is free at once; the attempt's report will no longer match the fence, and
            // the silo running it (in this process or another) is told after this commit.
            await ExecuteAsync(turn.Command(PostgresSql.FreeSlotsOfTask).Bind("seq", task.Seq), cancellationToken).ConfigureAwait(false);
            turn.CancelledRunning.Add(id);
            turn.WorkAvailable = true;
        }

        await AddEventAsync(turn, task.Seq, task.Status, TaskStatus.Cancelled, task.Silo, task.Status == TaskStatus.Running ? task.Attempts : null,
            "cancelled by user", cancellationToken).ConfigureAwait(false);
        turn.Move(task.Status, TaskStatus.Cancelled);
        await FailDescendantsAsync(turn, task.Seq, id, TaskStatus.Cancelled, cancellationToken).ConfigureAwait(false);
        return TaskStatus.Cancelled;
    }

    /// <summary>Re-arms a FAILED, CANCELLED or UPSTREAM_FAILED task with fresh attempts, and every
    /// UPSTREAM_FAILED task below it whose other dependencies have not failed goes back to WAITING:
    /// one call re-runs a failed subgraph.</summary>
    private static async Task<TaskStatus?> RetryAsync(PostgresTurn turn, string id, CancellationToken cancellationToken)
    {
        if (await ReadStateAsync(turn, id, cancellationToken).ConfigureAwait(false) is not { } task)
        {
            return null;
        }

        if (task.Status is not (TaskStatus.Failed or TaskStatus.Cancelled or TaskStatus.UpstreamFailed))
        {
            throw new TaskConflictException(id,
                $"Task '{id}' is {task.Status.ToName()}; only FAILED, CANCELLED or UPSTREAM_FAILED tasks can be retried.");
        }

        var upstreams = await ReadUpstreamsAsync(turn, task.Seq, cancellationToken).ConfigureAwait(false);
        var failed = upstreams.Where(u => TaskStateMachine.FailsDependents(u.Status)).ToList();
        if (failed.Count > 0)
        {
            throw new TaskConflictException(id,
                $"Task '{id}' depends on tasks that did not complete: {string.Join(", ", failed.Select(f => $"{f.Id} ({f.Status.ToName()})"))}; " +
                "retry those instead, which re-arms this task too.");
        }

        var pending = upstreams.Count(u => u.Status != TaskStatus.Completed);
        var status = TaskStateMachine.Initial(pending, upstreamFailed: false, task.RunAt, turn.Now);
        await RearmAsync(turn, task.Seq, task.Status, status, pending, "retried by user with fresh attempts", cancellationToken).ConfigureAwait(false);
        if (status == TaskStatus.Scheduled)
        {
            await SetReadyReminderAsync(turn, task.Seq, task.RunAt!.Value, RunAtReached, cancellationToken).ConfigureAwait(false);
        }

        await RearmDescendantsAsync(turn, task.Seq, id, cancellationToken).ConfigureAwait(false);
        return status;
    }

    /// <summary>The UPSTREAM_FAILED tasks below a re-armed one go back to WAITING once none of
    /// their dependencies is still failed; repeated until nothing changes, since a task may wait
    /// on several re-armed ones.</summary>
    private static async Task RearmDescendantsAsync(PostgresTurn turn, long seq, string id, CancellationToken cancellationToken)
    {
        var candidates = new List<long>();
        await using (var command = turn.Command(PostgresSql.UpstreamFailedDescendants).Bind("seq", seq))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                candidates.Add(reader.GetInt64(0));
            }
        }

        var upstreamsOf = new Dictionary<long, List<(long Seq, string Id, TaskStatus Status)>>();
        foreach (var candidate in candidates)
        {
            upstreamsOf[candidate] = await ReadUpstreamsAsync(turn, candidate, cancellationToken).ConfigureAwait(false);
        }

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
                    await RearmAsync(turn, candidate, TaskStatus.UpstreamFailed, TaskStatus.Waiting, pending, $"upstream task '{id}' was retried", cancellationToken).ConfigureAwait(false);
                    rearmed.Add(candidate);
                    progress = true;
                }
            }
        }
        while (progress);
    }

    private static async Task RearmAsync(PostgresTurn turn, long seq, TaskStatus from, TaskStatus to, int pending, string reason, CancellationToken cancellationToken)
    {
        await ExecuteAsync(turn.Command(PostgresSql.Rearm)
            .Bind("status", to.ToName())
            .Bind("pending", pending)
            .Bind("queued_at", to == TaskStatus.Queued ? turn.Now : null)
            .Bind("seq", seq), cancellationToken).ConfigureAwait(false);
        await AddEventAsync(turn, seq, from, to, null, null, reason, cancellationToken).ConfigureAwait(false);
        turn.Move(from, to);
        if (to == TaskStatus.Queued)
        {
            turn.WorkAvailable = true;
        }
    }

    /// <summary>Delivers due reminders as turns and answers when the next one falls due.</summary>
    private static async Task<DateTimeOffset?> FireRemindersAsync(PostgresTurn turn, int max, CancellationToken cancellationToken)
    {
        var due = new List<(long Task, string Kind, string? Reason, TaskStatus Status)>();
        await using (var command = turn.Command(PostgresSql.DueReminders).Bind("now", turn.Now).Bind("max", max))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                due.Add((reader.GetInt64(0), reader.GetString(1), reader.GetStringOrNull(2), TaskStatusNames.Parse(reader.GetString(3))));
            }
        }

        foreach (var (task, kind, reason, status) in due)
        {
            await ExecuteAsync(turn.Command(PostgresSql.DeleteReminder).Bind("task", task).Bind("kind", kind), cancellationToken).ConfigureAwait(false);
            if (kind == "ready" && status == TaskStatus.Scheduled)
            {
                await ExecuteAsync(turn.Command(PostgresSql.MarkReleased).Bind("status", TaskStatus.Queued.ToName()).Bind("now", turn.Now).Bind("seq", task), cancellationToken).ConfigureAwait(false);
                await AddEventAsync(turn, task, TaskStatus.Scheduled, TaskStatus.Queued, null, null, reason ?? RunAtReached, cancellationToken).ConfigureAwait(false);
                turn.Move(TaskStatus.Scheduled, TaskStatus.Queued);
                turn.WorkAvailable = true;
            }
        }

        return await ScalarTimeAsync(turn, PostgresSql.NextReminder, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An attempt whose lease ran out without renewal (judged by the database's clock)
    /// lost its silo (dead, hung, or cut off from the database): it counts as failed, so a task
    /// that keeps killing silos ends FAILED instead of looping forever.</summary>
    private static async Task ReclaimExpiredLeasesAsync(PostgresTurn turn, int max, CancellationToken cancellationToken)
    {
        var expired = new List<(string Id, int Attempt, int Max, string Silo)>();
        await using (var command = turn.Command(PostgresSql.ExpiredLeases).Bind("now", turn.Now).Bind("max", max))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                expired.Add((reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetStringOrNull(3) ?? ""));
            }
        }

        foreach (var (id, attempt, maxAttempts, silo) in expired)
        {
            await EndAttemptAsync(turn, id, attempt, maxAttempts, silo, succeeded: false, result: null,
                error: $"attempt lost: the lease of silo {silo} expired without renewal (silo dead or unresponsive)", cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task SetReadyReminderAsync(PostgresTurn turn, long seq, DateTimeOffset due, string reason, CancellationToken cancellationToken)
    {
        await ExecuteAsync(turn.Command(PostgresSql.SetReminder)
            .Bind("task", seq)
            .Bind("kind", "ready")
            .Bind("due", due.ToUniversalTime())
            .Bind("reason", reason), cancellationToken).ConfigureAwait(false);
        turn.RemindersChanged = true;
    }

    private static async Task<(long Seq, TaskStatus Status, int Attempts, string? Silo, DateTimeOffset? RunAt)?> ReadStateAsync(
        PostgresTurn turn, string id, CancellationToken cancellationToken)
    {
        await using var command = turn.Command(PostgresSql.TaskStateById).Bind("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (reader.GetInt64(0), TaskStatusNames.Parse(reader.GetString(1)), reader.GetInt32(2), reader.GetStringOrNull(3), reader.GetTimeOrNull(4))
            : null;
    }

    private static async Task<List<(long Seq, string Id, TaskStatus Status)>> ReadUpstreamsAsync(PostgresTurn turn, long seq, CancellationToken cancellationToken)
    {
        var upstreams = new List<(long, string, TaskStatus)>();
        await using var command = turn.Command(PostgresSql.UpstreamsOf).Bind("seq", seq);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            upstreams.Add((reader.GetInt64(0), reader.GetString(1), TaskStatusNames.Parse(reader.GetString(2))));
        }

        return upstreams;
    }

    private static async Task<DateTimeOffset?> ScalarTimeAsync(PostgresTurn turn, string sql, CancellationToken cancellationToken)
    {
        await using var command = turn.Command(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? reader.GetTimeOrNull(0) : null;
    }
}
