-- The move onto the Orleans runtime (issue 9); sql/sqlite/0003_orleans_grains.sql says the same
-- for SQLite. Each TaskGrain writes its own row through our grain storage provider, with the row's
-- version as the ETag; the ConcurrencyGrain writes its slot holders. The home-made membership
-- (silos), reminders and lease-bearing slots go: Orleans' ADO.NET membership and reminder tables
-- (0004, 0005) replace them.

-- The grains' clocks are the silos' (TimeProvider); times cross as Unix milliseconds, which the
-- runtime statements (queries.sql) turn into timestamptz and back with these two.
CREATE FUNCTION ms_to_ts(ms bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_timestamp(ms / 1000.0) $$;
CREATE FUNCTION ts_to_ms(ts timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (extract(epoch FROM ts) * 1000)::bigint $$;

-- A SCHEDULED task's due time (its run_at, or the end of a retry's backoff) and which of the two
-- it is; recovery finds the due ones by this index. grant_id is the last slot grant the task saw
-- (the fence of its attempts); attempt_silo the Orleans address of the silo running its attempt.
ALTER TABLE tasks ADD COLUMN due_at timestamptz;
ALTER TABLE tasks ADD COLUMN due_kind text;
ALTER TABLE tasks ADD COLUMN grant_id bigint NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN attempt_silo text;

UPDATE tasks t SET
    due_at = coalesce(r.due_at, t.run_at, t.created_at),
    due_kind = CASE WHEN r.reason = 'retry backoff over' THEN 'backoff' ELSE 'run_at' END
FROM tasks s LEFT JOIN reminders r ON r.task = s.seq AND r.kind = 'ready'
WHERE t.seq = s.seq AND t.status = 'SCHEDULED';
CREATE INDEX tasks_due ON tasks (due_at) WHERE status = 'SCHEDULED';

-- Attempts that were running when a process of the old layer stopped are handed back without
-- counting: nothing in the new layer holds their slots.
INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
SELECT seq, clock_timestamp(), 'RUNNING', 'QUEUED', worker_id, attempts,
       'handed back: the scheduler was upgraded while attempt ' || attempts || ' ran'
FROM tasks WHERE status = 'RUNNING';
UPDATE status_counts SET count = count + (SELECT count(*) FROM tasks WHERE status = 'RUNNING')
WHERE status = 'QUEUED' AND shard = 0;
UPDATE status_counts SET count = 0 WHERE status = 'RUNNING';
UPDATE tasks SET status = 'QUEUED', attempts = attempts - 1, worker_id = NULL, started_at = NULL,
                 queued_at = clock_timestamp(), version = version + 1
WHERE status = 'RUNNING';

DROP TABLE reminders;
DROP TABLE silos;
DROP TABLE slots;

-- The ConcurrencyGrain's state: its version (the ETag), the next grant id (grants are unique and
-- increasing for the database's life, so a task can tell a stale grant), and one row per held slot.
-- A holder is written before its grant is sent, so the limit survives the grain's re-activation
-- on another silo.
CREATE TABLE concurrency (
    id          integer PRIMARY KEY CHECK (id = 0),
    version     bigint  NOT NULL,
    next_grant  bigint  NOT NULL
);
CREATE TABLE slot_holders (
    slot_no     integer     PRIMARY KEY,
    task_id     text        NOT NULL,
    grant_id    bigint      NOT NULL,
    granted_at  timestamptz NOT NULL
);
