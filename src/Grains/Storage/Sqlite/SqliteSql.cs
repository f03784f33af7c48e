namespace OrleansScheduler.Grains.Storage.Sqlite;

/// <summary>Every runtime query of the SQLite store, in one place (the schema is sql/sqlite/).</summary>
internal static class SqliteSql
{
    public const string Savepoint = "SAVEPOINT turn";
    public const string ReleaseSavepoint = "RELEASE turn";
    public const string RollbackToSavepoint = "ROLLBACK TO turn";

    public const string AddToCount = "UPDATE status_counts SET count = count + $delta WHERE status = $status";

    // -- submission
    public const string TaskSeqAndStatusById = "SELECT seq, status FROM tasks WHERE id = $id";

    public const string InsertTask = """
        INSERT INTO tasks (id, type, status, priority, duration_ms, payload, run_at, timeout_ms,
                           max_attempts, pending_deps, created_at, queued_at, completed_at, error,
                           retry_backoff_ms, retry_backoff_max_ms)
        VALUES ($id, $type, $status, $priority, $duration_ms, $payload, $run_at, $timeout_ms,
                $max_attempts, $pending_deps, $now, $queued_at, $completed_at, $error, $backoff, $backoff_max)
        RETURNING seq
        """;

    public const string InsertEdge = "INSERT OR IGNORE INTO task_edges (upstream, downstream) VALUES ($upstream, $downstream)";

    public const string InsertEvent = """
        INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
        VALUES ($task, $at, $from, $to, $silo, $attempt, $reason)
        """;

    // -- claims (the ConcurrencyGrain)
    // How many tasks a claim can take, counted first (in the ready index, up to the batch) so the
    // claim reads only as many free slots as it will fill, not every free slot of a wide limit.
    public const string ReadyCount = """
        SELECT count(*) FROM (SELECT 1 FROM tasks INDEXED BY tasks_ready WHERE status = 'QUEUED' LIMIT $max)
        """;

    public const string FreeSlots = "SELECT slot_no FROM slots WHERE task IS NULL ORDER BY slot_no LIMIT $max";

    // A claim is three statements however many tasks it takes: the ready tasks are flipped to
    // RUNNING in one UPDATE (the IN list is materialised before any row changes), then the slots
    // and the events are written from one JSON array of [slot, seq, attempt, max_attempts].
    // jsonb_each rather than json_each: it hands each element over as JSONB, so the ->> that pick
    // it apart do not parse it again.
    // INDEXED BY: without statistics SQLite's planner prefers the equality index on status and
    // sorts every matching row, which makes a claim (and /api/stats) cost O(rows) instead of
    // O(batch); the hint keeps the plan from depending on the data (docs/performance.md).
    public const string ClaimReady = """
        UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, worker_id = $silo,
                         started_at = $now, version = version + 1
        WHERE seq IN (SELECT seq FROM tasks INDEXED BY tasks_ready WHERE status = 'QUEUED'
                      ORDER BY priority DESC, seq LIMIT $max)
        RETURNING seq, id, type, duration_ms, payload, timeout_ms, attempts, max_attempts, priority
        """;

    public const string HoldSlots = """
        UPDATE slots SET task = j.value ->> 1, attempt = j.value ->> 2, silo = $silo, leased_at = $now,
                         lease_expires_at = $expires
        FROM jsonb_each($claims) AS j
        WHERE slots.slot_no = j.value ->> 0
        """;

    public const string ClaimEvents = """
        INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
        SELECT j.value ->> 1, $now, 'QUEUED', 'RUNNING', $silo, j.value ->> 2,
               'attempt ' || (j.value ->> 2) || ' of ' || (j.value ->> 3) || ' started'
        FROM jsonb_each($claims) AS j
        """;

    // Successful attempts are recorded the same way: one fenced UPDATE from a JSON array of
    // [id, attempt, silo, result?] (only the live attempt of its silo matches), then the freed
    // slots and the events from the [seq, attempt, silo] rows it returned. The unary + keeps the
    // planner off the status index: each array element must find its task by id.
    public const string CompleteAttempts = """
        UPDATE tasks SET status = 'COMPLETED', completed_at = $now,
                         result = CASE WHEN json_type(j.value, '$[3]') IS NULL THEN NULL ELSE j.value -> '$[3]' END,
                         error = NULL, version = version + 1
        FROM jsonb_each($done) AS j
        WHERE tasks.id = j.value ->> 0 AND +tasks.status = 'RUNNING'
          AND tasks.attempts = j.value ->> 1 AND tasks.worker_id = j.value ->> 2
        RETURNING seq, id, EXISTS (SELECT 1 FROM task_edges WHERE upstream = tasks.seq)
        """;

    public const string FreeSlotsOfTasks = """
        UPDATE slots SET task = NULL, attempt = NULL, silo = NULL, leased_at = NULL, lease_expires_at = NULL
        WHERE task IN (SELECT j.value ->> 0 FROM jsonb_each($completed) AS j)
        """;

    public const string CompletionEvents = """
        INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
        SELECT j.value ->> 0, $now, 'RUNNING', 'COMPLETED', j.value ->> 2, j.value ->> 1, 'completed'
        FROM jsonb_each($completed) AS j
        """;

    public const string FreeSlotsOfTask = """
        UPDATE slots SET task = NULL, attempt = NULL, silo = NULL, leased_at = NULL, lease_expires_at = NULL
        WHERE task = $seq
        """;

    // -- ending attempts. The fence: only the live attempt of its silo matches.
    public const string FenceAttempt = """
        SELECT seq, retry_backoff_ms, retry_backoff_max_ms FROM tasks
        WHERE id = $id AND status = 'RUNNING' AND attempts = $attempt AND worker_id = $silo
        """;

    public const string CompleteAttempt = """
        UPDATE tasks SET status = 'COMPLETED', completed_at = $now, result = $result, error = NULL, version = version + 1
        WHERE id = $id AND status = 'RUNNING' AND attempts = $attempt AND worker_id = $silo
        RETURNING seq, EXISTS (SELECT 1 FROM task_edges WHERE upstream = tasks.seq)
        """;

    public const string FailAttempt = """
        UPDATE tasks SET status = $status, completed_at = $completed_at, queued_at = coalesce($queued_at, queued_at),
                         result = NULL, error = $error, version = version + 1
        WHERE seq = $seq
        """;

    public const string HandBack = """
        UPDATE tasks SET status = 'QUEUED', attempts = attempts - 1, worker_id = NULL, started_at = NULL,
                         queued_at = $now, version = version + 1
        WHERE id = $id AND status = 'RUNNING' AND attempts = $attempt AND worker_id = $silo
        RETURNING seq
        """;

    // The dependents of every task a turn completed, in one statement: each WAITING dependent
    // loses one pending dependency per completed upstream (a fan-in's join may lose several). The
    // grouping sorts only this batch's edges; the unary + keeps the planner from walking every
    // WAITING task: each dependent is found by seq.
    public const string ReleaseDependents = """
        UPDATE tasks SET pending_deps = pending_deps - d.n, version = version + 1
        FROM (SELECT e.downstream, count(*) AS n FROM jsonb_each($completed) AS j
              JOIN task_edges AS e ON e.upstream = j.value GROUP BY e.downstream) AS d
        WHERE tasks.seq = d.downstream AND +tasks.status = 'WAITING'
        RETURNING seq, pending_deps, run_at
        """;

    public const string MarkReleased = """
        UPDATE tasks SET status = $status, queued_at = $now, version = version + 1 WHERE seq = $seq
        """;

    public const string UnfinishedDescendants = """
        WITH RECURSIVE d(seq) AS (
            SELECT downstream FROM task_edges WHERE upstream = $seq
            UNION
            SELECT e.downstream FROM task_edges e JOIN d ON e.upstream = d.seq
        )
        SELECT t.seq, t.status FROM tasks t JOIN d ON t.seq = d.seq
        WHERE t.status IN ('WAITING', 'SCHEDULED', 'QUEUED')
        """;

    public const string MarkUpstreamFailed = """
        UPDATE tasks SET status = 'UPSTREAM_FAILED', completed_at = $now, error = $error, version = version + 1
        WHERE seq = $seq
        """;

    // -- reminders (durable timers)
    public const string SetReminder = """
        INSERT INTO reminders (task, kind, due_at, reason) VALUES ($task, $kind, $due, $reason)
        ON CONFLICT (task, kind) DO UPDATE SET due_at = excluded.due_at, reason = excluded.reason
        """;

    public const string DeleteReminders = "DELETE FROM reminders WHERE task = $task";

    public const string DueReminders = """
        SELECT r.task, r.kind, r.reason, t.status FROM reminders r JOIN tasks t ON t.seq = r.task
        WHERE r.due_at <= $now ORDER BY r.due_at LIMIT $max
        """;

    public const string DeleteReminder = "DELETE FROM reminders WHERE task = $task AND kind = $kind";

    public const string NextReminder = "SELECT min(due_at) FROM reminders";

    public const string ReadyReminderOf = "SELECT due_at, reason FROM reminders WHERE task = $seq AND kind = 'ready'";

    // -- cancel and retry
    public const string TaskStateById = "SELECT seq, status, attempts, worker_id, run_at FROM tasks WHERE id = $id";

    public const string Cancel = """
        UPDATE tasks SET status = 'CANCELLED', completed_at = $now, error = $error, version = version + 1
        WHERE seq = $seq
        """;

    public const string UpstreamsOf = """
        SELECT t.seq, t.id, t.status FROM task_edges e JOIN tasks t ON t.seq = e.upstream WHERE e.downstream = $seq
        """;

    public const string Rearm = """
        UPDATE tasks SET status = $status, attempts = 0, pending_deps = $pending, worker_id = NULL, started_at = NULL,
                         completed_at = NULL, result = NULL, error = NULL, queued_at = $queued_at, version = version + 1
        WHERE seq = $seq
        """;

    public const string UpstreamFailedDescendants = """
        WITH RECURSIVE d(seq) AS (
            SELECT e.downstream FROM task_edges e JOIN tasks t ON t.seq = e.downstream
            WHERE e.upstream = $seq AND t.status = 'UPSTREAM_FAILED'
            UNION
            SELECT e.downstream FROM task_edges e JOIN d ON e.upstream = d.seq JOIN tasks t ON t.seq = e.downstream
            WHERE t.status = 'UPSTREAM_FAILED'
        )
        SELECT seq FROM d
        """;

    // -- recovery at start-up
    public const string RunningTasks = "SELECT id, attempts, max_attempts, worker_id FROM tasks WHERE status = 'RUNNING'";

    public const string ResizeSlotsDown = "DELETE FROM slots WHERE slot_no > $limit AND task IS NULL";

    public const string AddSlot = "INSERT OR IGNORE INTO slots (slot_no) VALUES ($slot)";

    // -- reads
    public const string TaskById = """
        SELECT seq, id, type, status, priority, duration_ms, payload, run_at, timeout_ms, attempts,
               max_attempts, worker_id, created_at, started_at, completed_at, result, error
        FROM tasks WHERE id = $id
        """;

    public const string DependenciesOf = """
        SELECT t.id, t.status FROM task_edges e JOIN tasks t ON t.seq = e.upstream
        WHERE e.downstream = $seq ORDER BY t.seq
        """;

    public const string EventsOf = """
        SELECT at, from_status, to_status, silo, attempt, reason FROM task_events
        WHERE task = $seq ORDER BY seq
        """;

    public const string SummaryColumns =
        "SELECT seq, id, type, status, priority, attempts, created_at, started_at, completed_at FROM tasks";

    public const string Counts = "SELECT status, count FROM status_counts";

    public const string SlotHolders = """
        SELECT s.slot_no, t.id, s.silo, s.attempt, s.leased_at FROM slots s JOIN tasks t ON t.seq = s.task
        ORDER BY s.slot_no
        """;

    public const string SlotCount = "SELECT count(*) FROM slots";

    // Completions per second (sql/sqlite/0002): "completed in the last minute" sums at most 60 rows.
    public const string CompletedSince = "SELECT coalesce(sum(count), 0) FROM completions_per_second WHERE second > $since";

    public const string AddCompletions = """
        INSERT INTO completions_per_second (second, count) VALUES ($second, $count)
        ON CONFLICT (second) DO UPDATE SET count = count + excluded.count
        """;

    public const string PruneCompletions = "DELETE FROM completions_per_second WHERE second < $before";

    public const string RecentCompletions = """
        SELECT started_at - queued_at, completed_at - started_at FROM tasks INDEXED BY tasks_completed
        WHERE status = 'COMPLETED' AND completed_at IS NOT NULL
        ORDER BY completed_at DESC LIMIT 1000
        """;

    // -- membership
    public const string UpsertSilo = """
        INSERT INTO silos (id, host, started_at, heartbeat_at, status, capacity)
        VALUES ($id, $host, $started_at, $now, 'ACTIVE', $capacity)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = $now, status = 'ACTIVE', capacity = $capacity
        """;

    // A silo that has not been heard from for SiloRetention (a day) is history, not a worker: its row goes when
    // another silo registers, so restarts do not pile up in /api/workers and the dashboard.
    public const string ForgetSilos = "DELETE FROM silos WHERE heartbeat_at < $before AND id <> $id";

    public const string Heartbeat = "UPDATE silos SET heartbeat_at = $now, status = 'ACTIVE' WHERE id = $id";

    public const string RenewLease = """
        UPDATE slots SET lease_expires_at = $expires
        WHERE silo = $silo AND attempt = $attempt AND task = (SELECT seq FROM tasks WHERE id = $id)
        """;

    public const string ExpiredLeases = """
        SELECT t.id, t.attempts, t.max_attempts, t.worker_id FROM slots s JOIN tasks t ON t.seq = s.task
        WHERE s.task IS NOT NULL AND s.lease_expires_at <= $now LIMIT $max
        """;

    public const string NextLeaseExpiry = "SELECT min(lease_expires_at) FROM slots WHERE task IS NOT NULL";

    public const string DeclareDead = "UPDATE silos SET status = 'DEAD' WHERE status = 'ACTIVE' AND heartbeat_at < $since";

    public const string StopSilo = "UPDATE silos SET status = 'STOPPED', heartbeat_at = $now WHERE id = $id";

    public const string Silos = """
        SELECT s.id, s.host, s.started_at, s.heartbeat_at, s.status, s.capacity,
               (SELECT count(*) FROM slots WHERE silo = s.id AND task IS NOT NULL)
        FROM silos s ORDER BY s.started_at DESC LIMIT 100
        """;

    public const string SilosAlive = "SELECT count(*) FROM silos WHERE status = 'ACTIVE' AND heartbeat_at >= $since";
}
