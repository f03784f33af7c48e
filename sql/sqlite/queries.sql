-- The runtime statements of the SQLite engine, by name (river's "-- name:" convention). The grain
-- storage provider, the read model and the reminder table run them by name; the same names, with
-- the same parameters and columns, are in sql/postgresql/queries.sql, so the C# around them is
-- one logic for both engines. Times are Unix milliseconds (UTC).
--
-- INDEXED BY: without statistics SQLite's planner prefers the equality index on status and sorts
-- every matching row, which makes the ready scan and the listings cost O(rows) instead of
-- O(page); the hints keep the plans from depending on the data (tests/Grains.Tests checks them).

-- name: ReadTask
-- A TaskGrain's whole state in one statement: its row, its dependencies with their statuses
-- (the notifications it is still waiting for are derived from them), and its subscribers.
SELECT t.seq, t.id, t.type, t.status, t.priority, t.duration_ms, t.payload, t.run_at, t.timeout_ms,
       t.attempts, t.max_attempts, t.worker_id, t.attempt_silo, t.grant_id, t.created_at, t.queued_at,
       t.started_at, t.completed_at, t.due_at, t.due_kind, t.result, t.error, t.retry_backoff_ms,
       t.retry_backoff_max_ms, t.version,
       (SELECT json_group_array(json_array(u.id, u.seq, u.status, u.cause_id, u.cause_status))
        FROM task_edges e JOIN tasks u ON u.seq = e.upstream WHERE e.downstream = t.seq),
       (SELECT json_group_array(d.id)
        FROM task_edges e JOIN tasks d ON d.seq = e.downstream WHERE e.upstream = t.seq),
       t.cause_id, t.cause_status, t.trace_parent, t.queue
FROM tasks t WHERE t.id = @id;

-- name: InsertTask
-- A new task's first write (ETag null). Nothing is inserted when the id exists: the caller sees
-- no row and answers with a conflict.
INSERT INTO tasks (id, type, status, priority, duration_ms, payload, run_at, timeout_ms, attempts,
                   max_attempts, pending_deps, created_at, queued_at, completed_at, error,
                   retry_backoff_ms, retry_backoff_max_ms, due_at, due_kind, cause_id, cause_status, trace_parent, queue, version)
VALUES (@id, @type, @status, @priority, @duration_ms, @payload, @run_at, @timeout_ms, 0,
        @max_attempts, @pending_deps, @created_at, @queued_at, @completed_at, @error,
        @retry_backoff_ms, @retry_backoff_max_ms, @due_at, @due_kind, @cause_id, @cause_status, @trace_parent, @queue, 0)
ON CONFLICT (id) DO NOTHING
RETURNING seq;

-- name: InsertEdge
INSERT OR IGNORE INTO task_edges (upstream, downstream) VALUES (@upstream, @downstream);

-- name: UpdateTask
-- Every later write, fenced on the version the grain read or last wrote (its ETag): a stale
-- activation (a frozen silo's, a lost attempt's) changes no row and gets InconsistentStateException.
UPDATE tasks SET status = @status, attempts = @attempts, worker_id = @worker_id,
                 attempt_silo = @attempt_silo, grant_id = @grant_id, pending_deps = @pending_deps,
                 queued_at = @queued_at, started_at = @started_at, completed_at = @completed_at,
                 due_at = @due_at, due_kind = @due_kind, result = @result, error = @error,
                 cause_id = @cause_id, cause_status = @cause_status, queue = @queue, version = version + 1
WHERE seq = @seq AND version = @version;

-- name: InsertEvent
INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
VALUES (@task, @at, @from_status, @to_status, @silo, @attempt, @reason);

-- name: AddToCount
UPDATE status_counts SET count = count + @delta WHERE status = @status;

-- name: AddCompletions
INSERT INTO completions_per_second (second, count) VALUES (@second, @count)
ON CONFLICT (second) DO UPDATE SET count = count + excluded.count;

-- name: PruneCompletions
DELETE FROM completions_per_second WHERE second < @before;

-- name: ReadConcurrency
SELECT version, next_grant FROM concurrency WHERE id = 0;

-- name: ReadHolders
SELECT slot_no, task_id, grant_id, granted_at FROM slot_holders ORDER BY slot_no;

-- name: InsertConcurrency
INSERT INTO concurrency (id, version, next_grant) VALUES (0, 0, @next_grant) ON CONFLICT (id) DO NOTHING;

-- name: UpdateConcurrency
UPDATE concurrency SET version = version + 1, next_grant = @next_grant WHERE id = 0 AND version = @version;

-- name: UpsertHolder
INSERT INTO slot_holders (slot_no, task_id, grant_id, granted_at) VALUES (@slot_no, @task_id, @grant_id, @granted_at)
ON CONFLICT (slot_no) DO UPDATE SET task_id = excluded.task_id, grant_id = excluded.grant_id, granted_at = excluded.granted_at;

-- name: DeleteHolder
DELETE FROM slot_holders WHERE slot_no = @slot_no;

-- name: TaskSeqAndStatusById
SELECT seq, status FROM tasks WHERE id = @id;

-- name: EventsOf
SELECT at, from_status, to_status, silo, attempt, reason FROM task_events WHERE task = @seq ORDER BY seq;

-- name: DependenciesOf
SELECT u.id, u.status, u.cause_id, u.cause_status FROM task_edges e JOIN tasks u ON u.seq = e.upstream WHERE e.downstream = @seq ORDER BY e.upstream;

-- name: SummaryColumns
-- The head of a listing; src/Grains/Storage/TaskListing.cs appends the filters, order and page.
SELECT seq, id, type, status, priority, attempts, created_at, started_at, completed_at, worker_id FROM tasks

-- name: Counts
SELECT status, count FROM status_counts;

-- name: CompletedSince
SELECT coalesce(sum(count), 0) FROM completions_per_second WHERE second > @since;

-- name: RecentCompletions
SELECT started_at - queued_at, completed_at - started_at FROM tasks INDEXED BY tasks_completed
WHERE status = 'COMPLETED' AND completed_at IS NOT NULL
ORDER BY completed_at DESC LIMIT 1000;

-- name: ReadyTasks
-- The ConcurrencyGrain's grant scan: ready tasks, highest priority first, then oldest.
SELECT id, priority, seq FROM tasks INDEXED BY tasks_ready WHERE status = 'QUEUED' AND queue IS NULL ORDER BY priority DESC, seq LIMIT @max;

-- name: WorkerReadyTasks
-- Ready tasks of one type for external workers, highest priority first, then oldest: the index
-- gives them in that order (one query per type of a worker's capabilities, merged by the caller).
SELECT id, priority, seq, type FROM tasks INDEXED BY tasks_worker_ready
WHERE status = 'QUEUED' AND queue IS NOT NULL AND type = @type
ORDER BY priority DESC, seq LIMIT @max;

-- name: DueScheduled
SELECT id FROM tasks INDEXED BY tasks_due WHERE status = 'SCHEDULED' AND due_at <= @until ORDER BY due_at LIMIT @max;

-- name: StalledWaiting
-- WAITING tasks that a dependency's end should have moved on (one failed, or none is unfinished):
-- recovery wakes them in case that notification was lost.
SELECT d.id FROM tasks d INDEXED BY tasks_by_status
WHERE d.status = 'WAITING'
  AND (EXISTS (SELECT 1 FROM task_edges e JOIN tasks u ON u.seq = e.upstream
               WHERE e.downstream = d.seq AND u.status IN ('FAILED', 'CANCELLED', 'UPSTREAM_FAILED'))
       OR NOT EXISTS (SELECT 1 FROM task_edges e JOIN tasks u ON u.seq = e.upstream
                      WHERE e.downstream = d.seq AND u.status <> 'COMPLETED'))
LIMIT @max;

-- name: StalledUpstreamFailed
-- UPSTREAM_FAILED tasks none of whose dependencies is failed any more: a retry re-armed them, but
-- the notification that re-arms this one was lost.
SELECT d.id FROM tasks d INDEXED BY tasks_by_status
WHERE d.status = 'UPSTREAM_FAILED'
  AND NOT EXISTS (SELECT 1 FROM task_edges e JOIN tasks u ON u.seq = e.upstream
                  WHERE e.downstream = d.seq AND u.status IN ('FAILED', 'CANCELLED', 'UPSTREAM_FAILED'))
LIMIT @max;

-- name: Ping
SELECT 1;

-- name: ReminderUpsert
INSERT INTO orleans_reminders (grain_id, name, grain_hash, start_at, period_ms, version)
VALUES (@grain_id, @name, @grain_hash, @start_at, @period_ms, 1)
ON CONFLICT (grain_id, name) DO UPDATE SET grain_hash = excluded.grain_hash, start_at = excluded.start_at,
    period_ms = excluded.period_ms, version = orleans_reminders.version + 1
RETURNING version;

-- name: ReminderRead
SELECT grain_id, name, start_at, period_ms, version FROM orleans_reminders WHERE grain_id = @grain_id AND name = @name;

-- name: ReminderReadGrain
SELECT grain_id, name, start_at, period_ms, version FROM orleans_reminders WHERE grain_id = @grain_id;

-- name: ReminderReadRange
-- The reminders of a silo's share of the ring: (begin, end], or, when the range wraps, above begin
-- or up to end.
SELECT grain_id, name, start_at, period_ms, version FROM orleans_reminders
WHERE CASE WHEN @begin < @end THEN grain_hash > @begin AND grain_hash <= @end
           ELSE grain_hash > @begin OR grain_hash <= @end END;

-- name: ReminderDelete
DELETE FROM orleans_reminders WHERE grain_id = @grain_id AND name = @name AND version = @version;

-- name: ReminderClear
DELETE FROM orleans_reminders;

-- ---- The dashboard's history and graph (issue 10, point 7) ----------------------------------

-- name: AddFailures
INSERT INTO failures_per_second (second, count) VALUES (@second, @count)
ON CONFLICT (second) DO UPDATE SET count = count + excluded.count;

-- name: PruneFailures
DELETE FROM failures_per_second WHERE second < @before;

-- name: SampleQueueDepth
-- One sample of status_counts (8 rows); "WHERE true" lets SQLite parse ON CONFLICT after a SELECT.
INSERT INTO queue_depth_samples (second, waiting, scheduled, queued, running)
SELECT @second,
       coalesce(sum(CASE status WHEN 'WAITING' THEN count END), 0),
       coalesce(sum(CASE status WHEN 'SCHEDULED' THEN count END), 0),
       coalesce(sum(CASE status WHEN 'QUEUED' THEN count END), 0),
       coalesce(sum(CASE status WHEN 'RUNNING' THEN count END), 0)
FROM status_counts WHERE true
ON CONFLICT (second) DO NOTHING;

-- name: PruneQueueDepth
DELETE FROM queue_depth_samples WHERE second < @before;

-- name: CompletionsSince
SELECT second, count FROM completions_per_second WHERE second >= @since ORDER BY second;

-- name: FailuresSince
SELECT second, count FROM failures_per_second WHERE second >= @since ORDER BY second;

-- name: QueueDepthSince
-- The samples of the window and the last one before it (the depth at the window's start).
SELECT second, waiting, scheduled, queued, running FROM queue_depth_samples
WHERE second >= (SELECT coalesce(max(second), @since) FROM queue_depth_samples WHERE second <= @since)
ORDER BY second;

-- name: GraphNode
SELECT seq, id, type, status, duration_ms, started_at, completed_at FROM tasks WHERE id = @id;

-- name: GraphUpstream
-- The dependencies of a set of tasks (@seqs, a JSON array of seqs), by the downstream index; LIMIT
-- bounds a fan-in of any width.
SELECT e.downstream, u.seq, u.id, u.type, u.status, u.duration_ms, u.started_at, u.completed_at
FROM task_edges e INDEXED BY task_edges_downstream JOIN tasks u ON u.seq = e.upstream
WHERE e.downstream IN (SELECT value FROM json_each(@seqs))
LIMIT @max;

-- name: GraphDownstream
-- The dependents of a set of tasks, by the edges' primary key (upstream, downstream).
SELECT e.upstream, d.seq, d.id, d.type, d.status, d.duration_ms, d.started_at, d.completed_at
FROM task_edges e JOIN tasks d ON d.seq = e.downstream
WHERE e.upstream IN (SELECT value FROM json_each(@seqs))
LIMIT @max;
