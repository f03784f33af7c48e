namespace OrleansScheduler.Grains.Storage.Postgres;

/// <summary>Every runtime query of the PostgreSQL store, in one place (the schema is sql/postgresql/).
/// @now is the turn's clock: the database's now(), read inside the turn's own transaction (see
/// <see cref="PostgresTaskStore"/>), so lease expiry, heartbeats and due times are judged by one
/// clock for every silo. Rows a turn decides on are locked (FOR UPDATE / FOR SHARE) so that turns
/// of other silos on the same rows wait instead of deciding on a stale read; claims skip rows
/// another silo is claiming (SKIP LOCKED) instead of waiting for them.</summary>
internal static class PostgresSql
{
    /// <summary>The wall clock of the server at the moment of reading (now() would be the start of
    /// the transaction, which can precede a commit the turn already sees).</summary>
    public const string Now = "SELECT clock_timestamp()";

    /// <summary>Each connection adds to its own shard of a status (see the schema), in status
    /// order, so concurrent turns never wait on each other in a cycle here.</summary>
    public const string AddToCount =
        "UPDATE status_counts SET count = count + @delta WHERE status = @status AND shard = pg_backend_pid() % 16";

    public const string Notify = "SELECT pg_notify(@channel, @payload)";

    // -- migrations
    public const string MigrationLock = "SELECT pg_advisory_xact_lock(@key)";

    public const string CreateSchemaVersion = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
        """;

    public const string CurrentVersion = "SELECT coalesce(max(version), 0) FROM schema_version";

    public const string RecordVersion = "INSERT INTO schema_version (version, name) VALUES (@version, @name)";

    // -- submission. Existing dependencies are locked FOR SHARE: a turn that ends one of them
    // waits until this submission committed, and so sees (and releases or fails) the new edge.
    public const string TaskSeqAndStatusById = "SELECT seq, status FROM tasks WHERE id = @id FOR SHARE";

    public const string InsertTask = """
        INSERT INTO tasks (id, type, status, priority, duration_ms, payload, run_at, timeout_ms,
                           max_attempts, pending_deps, created_at, queued_at, completed_at, error,
                           retry_backoff_ms, retry_backoff_max_ms)
        VALUES (@id, @type, @status, @priority, @duration_ms, @payload::json, @run_at::timestamptz, @timeout_ms::bigint,
                @max_attempts, @pending_deps, @now, @queued_at::timestamptz, @completed_at::timestamptz, @error::text,
                @backoff, @backoff_max)
        RETURNING seq
        """;

    public const string InsertEdge =
        "INSERT INTO task_edges (upstream, downstream) VALUES (@upstream, @downstream) ON CONFLICT DO NOTHING";

    public const string InsertEvent = """
        INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
        VALUES (@task, @at, @from::text, @to, @silo::text, @attempt::integer, @reason::text)
        """;

    // -- claims (the ConcurrencyGrain): free slots and ready tasks in one transaction, each
    // skipping what another silo's claim holds right now.
    // Only as many free slots as there are ready tasks (counted up to the batch, without locks) are
    // locked, not every free slot of a wide limit: a small claim stays small.
    public const string FreeSlots = """
        SELECT slot_no FROM slots WHERE task IS NULL AND slot_no <= @limit
        ORDER BY slot_no
        LIMIT (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE status = 'QUEUED' LIMIT @max) AS ready)
        FOR UPDATE SKIP LOCKED
        """;

    public const string ReadyTasks = """
        SELECT seq, id, type, duration_ms, payload::text, timeout_ms, attempts, max_attempts
        FROM tasks WHERE status = 'QUEUED'
        ORDER BY priority DESC, seq
        LIMIT @max
        FOR UPDATE SKIP LOCKED
        """;

    // A claim writes its tasks, slots and events with one statement each, sent in one round trip:
    // the rows are already locked by the two SELECTs above.
    public const string StartAttempts = """
        UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1, worker_id = @silo,
                         started_at = @now, version = version + 1
        WHERE seq = ANY(@seqs)
        """;

    public const string HoldSlots = """
        UPDATE slots s SET task = c.seq, attempt = c.attempt, silo = @silo, leased_at = @now,
                           lease_expires_at = @expires
        FROM unnest(@slots::integer[], @seqs::bigint[], @attempts::integer[]) AS c (slot_no, seq, attempt)
        WHERE s.slot_no = c.slot_no
        """;

    public const string ClaimEvents = """
        INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
        SELECT c.seq, @now, 'QUEUED', 'RUNNING', @silo, c.attempt, 'attempt ' || c.attempt || ' of ' || c.max || ' started'
        FROM unnest(@seqs::bigint[], @attempts::integer[], @maxes::integer[]) AS c (seq, attempt, max)
        """;

    // A hand-over completes its successful attempts in one fenced UPDATE (only the live attempt of
    // its silo matches; the rows stay locked until commit), then frees the slots of every attempt
    // it ended in one statement that locks them in slot order, as the heartbeat's renewal does.
    public const string CompleteAttempts = """
        UPDATE tasks t SET status = 'COMPLETED', completed_at = @now, result = c.result::json, error = NULL,
                           version = t.version + 1
        FROM unnest(@ids::text[], @attempts::integer[], @silos::text[], @results::text[]) AS c (id, attempt, silo, result)
        WHERE t.id = c.id AND t.status = 'RUNNING' AND t.attempts = c.attempt AND t.worker_id = c.silo
        RETURNING t.seq, t.id, EXISTS (SELECT 1 FROM task_edges e WHERE e.upstream = t.seq)
        """;

    public const string FreeSlotsOfTasks = """
        WITH held AS (SELECT slot_no FROM slots WHERE task = ANY(@seqs) ORDER BY slot_no FOR UPDATE)
        UPDATE slots s SET task = NULL, attempt = NULL, silo = NULL, leased_at = NULL, lease_expires_at = NULL
        FROM held WHERE s.slot_no = held.slot_no
        """;

    public const string CompletionEvents = """
        INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
        SELECT c.seq, @now, 'RUNNING', 'COMPLETED', c.silo, c.attempt, 'completed'
        FROM unnest(@seqs::bigint[], @attempts::integer[], @silos::text[]) AS c (seq, attempt, silo)
        """;

    public const string FreeSlotsOfTask = """
        UPDATE slots SET task = NULL, attempt = NULL, silo = NULL, leased_at = NULL, lease_expires_at = NULL
        WHERE task = @seq
        """;

    // -- ending attempts. The fence: only the live attempt of its silo matches; the row stays
    // locked until the turn commits.
    public const string FenceAttempt = """
        SELECT seq, retry_backoff_ms, retry_backoff_max_ms FROM tasks
        WHERE id = @id AND status = 'RUNNING' AND attempts = @attempt AND worker_id = @silo
        FOR UPDATE
        """;

    public const string EndAttempt = """
        UPDATE tasks SET status = @status, completed_at = @completed_at::timestamptz,
                         queued_at = coalesce(@queued_at::timestamptz, queued_at),
                         result = @result::json, error = @error::text, version = version + 1
        WHERE seq = @seq
        """;

    public const string HandBack = """
        UPDATE tasks SET status = 'QUEUED', attempts = attempts - 1, worker_id = NULL, started_at = NULL,
                         queued_at = @now, version = version + 1
        WHERE id = @id AND status = 'RUNNING' AND attempts = @attempt AND worker_id = @silo
        RETURNING seq
        """;

    // The dependents of every task a turn completed, in one statement: each WAITING dependent
    // loses one pending dependency per completed upstream (a fan-in's join may lose several). The
    // dependents are locked in seq order, so two silos releasing the same joins never deadlock.
    public const string ReleaseDependents = """
        WITH d AS (SELECT downstream, count(*)::integer AS n FROM task_edges WHERE upstream = ANY(@seqs) GROUP BY downstream),
             locked AS (SELECT t.seq, d.n FROM tasks t JOIN d ON t.seq = d.downstream
                        WHERE t.status = 'WAITING' ORDER BY t.seq FOR UPDATE OF t)
        UPDATE tasks t SET pending_deps = t.pending_deps - locked.n, version = t.version + 1
        FROM locked WHERE t.seq = locked.seq
        RETURNING t.seq, t.pending_deps, t.run_at
        """;

    public const string MarkReleased = """
        UPDATE tasks SET status = @status, queued_at = @now, version = version + 1 WHERE seq = @seq
        """;

    public const string UnfinishedDescendants = """
        WITH RECURSIVE d(seq) AS (
            SELECT downstream FROM task_edges WHERE upstream = @seq
            UNION
            SELECT e.downstream FROM task_edges e JOIN d ON e.upstream = d.seq
        )
        SELECT t.seq, t.status FROM tasks t JOIN d ON t.seq = d.seq
        WHERE t.status IN ('WAITING', 'SCHEDULED', 'QUEUED')
        ORDER BY t.seq
        FOR UPDATE OF t
        """;

    public const string MarkUpstreamFailed = """
        UPDATE tasks SET status = 'UPSTREAM_FAILED', completed_at = @now, error = @error, version = version + 1
        WHERE seq = @seq
        """;

    // -- reminders (durable timers)
    public const string SetReminder = """
        INSERT INTO reminders (task, kind, due_at, reason) VALUES (@task, @kind, @due, @reason)
        ON CONFLICT (task, kind) DO UPDATE SET due_at = excluded.due_at, reason = excluded.reason
        """;

    public const string DeleteReminders = "DELETE FROM reminders WHERE task = @task";

    /// <summary>Due reminders and their tasks, locked; one another silo is delivering is skipped.</summary>
    public const string DueReminders = """
        SELECT r.task, r.kind, r.reason, t.status FROM reminders r JOIN tasks t ON t.seq = r.task
        WHERE r.due_at <= @now ORDER BY r.due_at LIMIT @max
        FOR UPDATE OF r, t SKIP LOCKED
        """;

    public const string DeleteReminder = "DELETE FROM reminders WHERE task = @task AND kind = @kind";

    public const string NextReminder = "SELECT min(due_at) FROM reminders";

    public const string ReadyReminderOf = "SELECT due_at, reason FROM reminders WHERE task = @seq AND kind = 'ready'";

    // -- cancel and retry
    public const string TaskStateById = "SELECT seq, status, attempts, worker_id, run_at FROM tasks WHERE id = @id FOR UPDATE";

    public const string Cancel = """
        UPDATE tasks SET status = 'CANCELLED', completed_at = @now, error = @error, version = version + 1
        WHERE seq = @seq
        """;

    /// <summary>Locked FOR SHARE: an upstream that is ending now is read as it ends, not as it was.</summary>
    public const string UpstreamsOf = """
        SELECT t.seq, t.id, t.status FROM task_edges e JOIN tasks t ON t.seq = e.upstream
        WHERE e.downstream = @seq ORDER BY t.seq
        FOR SHARE OF t
        """;

    public const string Rearm = """
        UPDATE tasks SET status = @status, attempts = 0, pending_deps = @pending, worker_id = NULL, started_at = NULL,
                         completed_at = NULL, result = NULL, error = NULL, queued_at = @queued_at::timestamptz,
                         version = version + 1
        WHERE seq = @seq
        """;

    public const string UpstreamFailedDescendants = """
        WITH RECURSIVE d(seq) AS (
            SELECT e.downstream FROM task_edges e JOIN tasks t ON t.seq = e.downstream
            WHERE e.upstream = @seq AND t.status = 'UPSTREAM_FAILED'
            UNION
            SELECT e.downstream FROM task_edges e JOIN d ON e.upstream = d.seq JOIN tasks t ON t.seq = e.downstream
            WHERE t.status = 'UPSTREAM_FAILED'
        )
        SELECT t.seq FROM tasks t JOIN d ON t.seq = d.seq ORDER BY t.seq FOR UPDATE OF t
        """;

    // -- slots at start-up: sized to this silo's limit without touching a held slot. Slots above
    // the limit that are still held are removed once free (ResizeSlotsDown also runs with reminders).
    public const string ResizeSlotsDown = "DELETE FROM slots WHERE slot_no > @limit AND task IS NULL";

    public const string AddSlots = "INSERT INTO slots (slot_no) SELECT generate_series(1, @limit) ON CONFLICT DO NOTHING";

    // -- reads
    public const string TaskById = """
        SELECT seq, id, type, status, priority, duration_ms, payload::text, run_at, timeout_ms, attempts,
               max_attempts, worker_id, created_at, started_at, completed_at, result::text, error
        FROM tasks WHERE id = @id
        """;

    public const string TaskSeqById = "SELECT seq FROM tasks WHERE id = @id";

    public const string DependenciesOf = """
        SELECT t.id, t.status FROM task_edges e JOIN tasks t ON t.seq = e.upstream
        WHERE e.downstream = @seq ORDER BY t.seq
        """;

    public const string EventsOf = """
        SELECT at, from_status, to_status, silo, attempt, reason FROM task_events
        WHERE task = @seq ORDER BY seq
        """;

    public const string SummaryColumns =
        "SELECT seq, id, type, status, priority, attempts, created_at, started_at, completed_at FROM tasks";

    public const string Counts = "SELECT status, sum(count)::bigint FROM status_counts GROUP BY status";

    public const string SlotHolders = """
        SELECT s.slot_no, t.id, s.silo, s.attempt, s.leased_at FROM slots s JOIN tasks t ON t.seq = s.task
        ORDER BY s.slot_no
        """;

    public const string SlotCount = "SELECT count(*) FROM slots";

    // Completions per second (sql/postgresql/0002): "completed in the last minute" sums its rows.
    public const string CompletedSince = "SELECT coalesce(sum(count), 0)::bigint FROM completions_per_second WHERE second > @since";

    public const string AddCompletions = """
        INSERT INTO completions_per_second (second, shard, count) VALUES (@second, pg_backend_pid() % 16, @count)
        ON CONFLICT (second, shard) DO UPDATE SET count = completions_per_second.count + excluded.count
        """;

    public const string PruneCompletions = "DELETE FROM completions_per_second WHERE second < @before";

    public const string RecentCompletions = """
        SELECT (extract(epoch FROM started_at - queued_at) * 1000)::float8,
               (extract(epoch FROM completed_at - started_at) * 1000)::float8
        FROM tasks
        WHERE status = 'COMPLETED' AND completed_at IS NOT NULL
        ORDER BY completed_at DESC LIMIT 1000
        """;

    // -- membership
    public const string UpsertSilo = """
        INSERT INTO silos (id, host, started_at, heartbeat_at, status, capacity)
        VALUES (@id, @host, @started_at, @now, 'ACTIVE', @capacity)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = @now, status = 'ACTIVE', capacity = @capacity
        """;

    // A silo that has not been heard from for SiloRetention (a day) is history, not a worker: its row goes when
    // another silo registers, so restarts do not pile up in /api/workers and the dashboard.
    public const string ForgetSilos = "DELETE FROM silos WHERE heartbeat_at < @before AND id <> @id";

    public const string Heartbeat = "UPDATE silos SET heartbeat_at = @now, status = 'ACTIVE' WHERE id = @id";

    /// <summary>Slot rows are locked in slot order, as the report turn frees them: two orders
    /// deadlocked the heartbeat against the silo's own reports, and a heartbeat that keeps losing
    /// lets its leases expire.</summary>
    public const string RenewLeases = """
        WITH mine AS (
            SELECT s.slot_no FROM slots s
            JOIN tasks t ON t.seq = s.task
            JOIN unnest(@ids::text[], @attempts::int[]) AS h(id, attempt) ON t.id = h.id AND s.attempt = h.attempt
            WHERE s.silo = @silo
            ORDER BY s.slot_no
            FOR UPDATE OF s)
        UPDATE slots s SET lease_expires_at = @expires
        FROM mine, tasks t
        WHERE s.slot_no = mine.slot_no AND t.seq = s.task
        RETURNING t.id, s.attempt
        """;

    /// <summary>Attempts whose lease ran out, with their slot and task locked; one that another
    /// silo is reclaiming (or whose task a turn holds) is skipped, to be looked at next time.</summary>
    public const string ExpiredLeases = """
        SELECT t.id, t.attempts, t.max_attempts, t.worker_id FROM slots s JOIN tasks t ON t.seq = s.task
        WHERE s.task IS NOT NULL AND s.lease_expires_at <= @now
        ORDER BY s.lease_expires_at LIMIT @max
        FOR UPDATE OF s, t SKIP LOCKED
        """;

    public const string NextLeaseExpiry = "SELECT min(lease_expires_at) FROM slots WHERE task IS NOT NULL";

    /// <summary>A silo row locked by its own open turn is skipped, not waited for: a silo frozen in
    /// the middle of a heartbeat must not stall every other silo's reminder turn.</summary>
    public const string DeclareDead = """
        UPDATE silos SET status = 'DEAD'
        WHERE id IN (SELECT id FROM silos WHERE status = 'ACTIVE' AND heartbeat_at < @since FOR UPDATE SKIP LOCKED)
        """;

    public const string StopSilo = "UPDATE silos SET status = 'STOPPED', heartbeat_at = @now WHERE id = @id";

    public const string Silos = """
        SELECT s.id, s.host, s.started_at, s.heartbeat_at, s.status, s.capacity,
               (SELECT count(*) FROM slots WHERE silo = s.id AND task IS NOT NULL)::integer
        FROM silos s ORDER BY s.started_at DESC LIMIT 100
        """;

    public const string SilosAlive = "SELECT count(*) FROM silos WHERE status = 'ACTIVE' AND heartbeat_at >= @since";
}
