-- The runtime statements of the PostgreSQL engine, by name (river's "-- name:" convention). The
-- same names, parameters and columns as sql/sqlite/queries.sql, so the C# around them is one logic
-- for both engines. Times cross as Unix milliseconds (ms_to_ts / ts_to_ms, migration 0003); json
-- columns cross as text. Nullable parameters carry a cast, since Npgsql sends a null untyped.
--
-- Each silo group-commits its own grains' writes; a task's row is written only by its one
-- activation, so silos do not contend for rows. The counters are sharded by backend (16 rows a
-- status) so that silos committing at once do not queue on one row lock.

-- name: ReadTask
SELECT t.seq, t.id, t.type, t.status, t.priority, t.duration_ms, t.payload::text, ts_to_ms(t.run_at), t.timeout_ms,
       t.attempts, t.max_attempts, t.worker_id, t.attempt_silo, t.grant_id, ts_to_ms(t.created_at), ts_to_ms(t.queued_at),
       ts_to_ms(t.started_at), ts_to_ms(t.completed_at), ts_to_ms(t.due_at), t.due_kind, t.result::text, t.error,
       t.retry_backoff_ms, t.retry_backoff_max_ms, t.version,
       (SELECT coalesce(json_agg(json_build_array(u.id, u.seq, u.status, u.cause_id, u.cause_status)), '[]'::json)::text
        FROM task_edges e JOIN tasks u ON u.seq = e.upstream WHERE e.downstream = t.seq),
       (SELECT coalesce(json_agg(d.id), '[]'::json)::text
        FROM task_edges e JOIN tasks d ON d.seq = e.downstream WHERE e.upstream = t.seq),
       t.cause_id, t.cause_status, t.trace_parent, t.queue
FROM tasks t WHERE t.id = @id;

-- name: InsertTask
INSERT INTO tasks (id, type, status, priority, duration_ms, payload, run_at, timeout_ms, attempts,
                   max_attempts, pending_deps, created_at, queued_at, completed_at, error,
                   retry_backoff_ms, retry_backoff_max_ms, due_at, due_kind, cause_id, cause_status, trace_parent, queue, version)
VALUES (@id, @type, @status, @priority, @duration_ms, @payload::json, ms_to_ts(@run_at::bigint), @timeout_ms::bigint, 0,
        @max_attempts, @pending_deps, ms_to_ts(@created_at), ms_to_ts(@queued_at::bigint), ms_to_ts(@completed_at::bigint),
        @error::text, @retry_backoff_ms, @retry_backoff_max_ms, ms_to_ts(@due_at::bigint), @due_kind::text,
        @cause_id::text, @cause_status::text, @trace_parent::text, @queue::text, 0)
ON CONFLICT (id) DO NOTHING
RETURNING seq;

-- name: InsertEdge
INSERT INTO task_edges (upstream, downstream) VALUES (@upstream, @downstream) ON CONFLICT DO NOTHING;

-- name: UpdateTask
UPDATE tasks SET status = @status, attempts = @attempts, worker_id = @worker_id::text,
                 attempt_silo = @attempt_silo::text, grant_id = @grant_id, pending_deps = @pending_deps,
                 queued_at = ms_to_ts(@queued_at::bigint), started_at = ms_to_ts(@started_at::bigint),
                 completed_at = ms_to_ts(@completed_at::bigint), due_at = ms_to_ts(@due_at::bigint),
                 due_kind = @due_kind::text, result = @result::json, error = @error::text,
                 cause_id = @cause_id::text, cause_status = @cause_status::text, queue = @queue::text, version = version + 1
WHERE seq = @seq AND version = @version;

-- name: InsertEvent
INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
VALUES (@task, ms_to_ts(@at), @from_status::text, @to_status, @silo::text, @attempt::integer, @reason::text);

-- name: AddToCount
UPDATE status_counts SET count = count + @delta WHERE status = @status AND shard = pg_backend_pid() % 16;

-- name: AddCompletions
INSERT INTO completions_per_second (second, shard, count) VALUES (@second, pg_backend_pid() % 16, @count)
ON CONFLICT (second, shard) DO UPDATE SET count = completions_per_second.count + excluded.count;

-- name: PruneCompletions
DELETE FROM completions_per_second WHERE second < @before;

-- name: ReadConcurrency
SELECT version, next_grant FROM concurrency WHERE id = 0;

-- name: ReadHolders
SELECT slot_no, task_id, grant_id, ts_to_ms(granted_at) FROM slot_holders ORDER BY slot_no;

-- name: InsertConcurrency
INSERT INTO concurrency (id, version, next_grant) VALUES (0, 0, @next_grant) ON CONFLICT (id) DO NOTHING;

-- name: UpdateConcurrency
UPDATE concurrency SET version = version + 1, next_grant = @next_grant WHERE id = 0 AND version = @version;

-- name: UpsertHolder
INSERT INTO slot_holders (slot_no, task_id, grant_id, granted_at) VALUES (@slot_no, @task_id, @grant_id, ms_to_ts(@granted_at))
ON CONFLICT (slot_no) DO UPDATE SET task_id = excluded.task_id, grant_id = excluded.grant_id, granted_at = excluded.granted_at;

-- name: DeleteHolder
DELETE FROM slot_holders WHERE slot_no = @slot_no;

-- name: TaskSeqAndStatusById
SELECT seq, status FROM tasks WHERE id = @id;

-- name: EventsOf
SELECT ts_to_ms(at), from_status, to_status, silo, attempt, reason FROM task_events WHERE task = @seq ORDER BY seq;

-- name: DependenciesOf
SELECT u.id, u.status, u.cause_id, u.cause_status FROM task_edges e JOIN tasks u ON u.seq = e.upstream WHERE e.downstream = @seq ORDER BY e.upstream;

-- name: SummaryColumns
-- The head of a listing; src/Grains/Storage/TaskListing.cs appends the filters, order and page.
SELECT seq, id, type, status, priority, attempts, ts_to_ms(created_at), ts_to_ms(started_at), ts_to_ms(completed_at), worker_id FROM tasks

-- name: Counts
SELECT status, sum(count)::bigint FROM status_counts GROUP BY status;

-- name: CompletedSince
SELECT coalesce(sum(count), 0)::bigint FROM completions_per_second WHERE second > @since;

-- name: RecentCompletions
SELECT ts_to_ms(started_at) - ts_to_ms(queued_at), ts_to_ms(completed_at) - ts_to_ms(started_at)
FROM tasks
WHERE status = 'COMPLETED' AND completed_at IS NOT NULL
ORDER BY completed_at DESC LIMIT 1000;

-- name: ReadyTasks
-- The ConcurrencyGrain's grant scan for the silos: ready tasks, highest priority first, then oldest.
SELECT id, priority, seq FROM tasks WHERE status = 'QUEUED' AND queue IS NULL ORDER BY priority DESC, seq LIMIT @max;

-- name: WorkerReadyTasks
-- Ready tasks of one type for external workers, highest priority first, then oldest: the index
-- gives them in that order (one query per type of a worker's capabilities, merged by the caller).
SELECT id, priority, seq, type FROM tasks
WHERE status = 'QUEUED' AND queue IS NOT NULL AND type = @type
ORDER BY priority DESC, seq LIMIT @max;

-- name: DueScheduled
SELECT id FROM tasks WHERE status = 'SCHEDULED' AND due_at <= ms_to_ts(@until) ORDER BY due_at LIMIT @max;

-- name: StalledWaiting
-- WAITING tasks that a dependency's end should have moved on (one failed, or none is unfinished):
-- recovery wakes them in case that notification was lost.
SELECT d.id FROM tasks d
WHERE d.status = 'WAITING'
  AND (EXISTS (SELECT 1 FROM task_edges e JOIN tasks u ON u.seq = e.upstream
               WHERE e.downstream = d.seq AND u.status IN ('FAILED', 'CANCELLED', 'UPSTREAM_FAILED'))
       OR NOT EXISTS (SELECT 1 FROM task_edges e JOIN tasks u ON u.seq = e.upstream
                      WHERE e.downstream = d.seq AND u.status <> 'COMPLETED'))
LIMIT @max;

-- name: StalledUpstreamFailed
SELECT d.id FROM tasks d
WHERE d.status = 'UPSTREAM_FAILED'
  AND NOT EXISTS (SELECT 1 FROM task_edges e JOIN tasks u ON u.seq = e.upstream
                  WHERE e.downstream = d.seq AND u.status IN ('FAILED', 'CANCELLED', 'UPSTREAM_FAILED'))
LIMIT @max;

-- name: Ping
SELECT 1;

-- ---- The dashboard's history and graph (issue 10, point 7) ----------------------------------

-- name: AddFailures
INSERT INTO failures_per_second (second, shard, count) VALUES (@second, pg_backend_pid() % 16, @count)
ON CONFLICT (second, shard) DO UPDATE SET count = failures_per_second.count + excluded.count;

-- name: PruneFailures
DELETE FROM failures_per_second WHERE second < @before;

-- name: SampleQueueDepth
INSERT INTO queue_depth_samples (second, waiting, scheduled, queued, running)
SELECT @second,
       coalesce(sum(count) FILTER (WHERE status = 'WAITING'), 0),
       coalesce(sum(count) FILTER (WHERE status = 'SCHEDULED'), 0),
       coalesce(sum(count) FILTER (WHERE status = 'QUEUED'), 0),
       coalesce(sum(count) FILTER (WHERE status = 'RUNNING'), 0)
FROM status_counts
ON CONFLICT (second) DO NOTHING;

-- name: PruneQueueDepth
DELETE FROM queue_depth_samples WHERE second < @before;

-- name: CompletionsSince
SELECT second, sum(count)::bigint FROM completions_per_second WHERE second >= @since GROUP BY second ORDER BY second;

-- name: FailuresSince
SELECT second, sum(count)::bigint FROM failures_per_second WHERE second >= @since GROUP BY second ORDER BY second;

-- name: QueueDepthSince
SELECT second, waiting, scheduled, queued, running FROM queue_depth_samples
WHERE second >= (SELECT coalesce(max(second), @since) FROM queue_depth_samples WHERE second <= @since)
ORDER BY second;

-- name: GraphNode
SELECT seq, id, type, status, duration_ms, ts_to_ms(started_at), ts_to_ms(completed_at) FROM tasks WHERE id = @id;

-- name: GraphUpstream
SELECT e.downstream, u.seq, u.id, u.type, u.status, u.duration_ms, ts_to_ms(u.started_at), ts_to_ms(u.completed_at)
FROM task_edges e JOIN tasks u ON u.seq = e.upstream
WHERE e.downstream IN (SELECT value::bigint FROM json_array_elements_text(@seqs::json))
LIMIT @max;

-- name: GraphDownstream
SELECT e.upstream, d.seq, d.id, d.type, d.status, d.duration_ms, ts_to_ms(d.started_at), ts_to_ms(d.completed_at)
FROM task_edges e JOIN tasks d ON d.seq = e.downstream
WHERE e.upstream IN (SELECT value::bigint FROM json_array_elements_text(@seqs::json))
LIMIT @max;
