-- OrleansScheduler schema, PostgreSQL. The same tables, with the same meaning, as
-- sql/sqlite/0001_initial.sql. Applied by the store at start-up in one transaction under
-- pg_advisory_xact_lock, so silos starting together migrate once; the version is recorded in
-- schema_version. Times are timestamptz. Every time the store compares (lease expiry, heartbeats,
-- reminder due times) is the database's clock, read inside the turn's transaction, never a silo's.

-- One row per TaskGrain. seq is submission order (the cursor of listings and the tie-break of
-- claims); id is the user's name for the task.
CREATE TABLE tasks (
    seq           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            text        NOT NULL UNIQUE,
    type          text        NOT NULL,
    status        text        NOT NULL,
    priority      integer     NOT NULL,
    duration_ms   bigint      NOT NULL,
    -- json, not jsonb: the payload and result come back exactly as they were given.
    payload       json,
    run_at        timestamptz,
    timeout_ms    bigint,
    attempts      integer     NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL,
    pending_deps  integer     NOT NULL,
    worker_id     text,
    created_at    timestamptz NOT NULL,
    queued_at     timestamptz,
    started_at    timestamptz,
    completed_at  timestamptz,
    result        json,
    error         text,
    -- Retry policy: the delay before retry n is min(max, base * 2^(n-1)), with jitter.
    retry_backoff_ms      bigint NOT NULL DEFAULT 0,
    retry_backoff_max_ms  bigint NOT NULL DEFAULT 0,
    version       bigint      NOT NULL DEFAULT 0
);

-- Claims read ready tasks highest priority first, then oldest: this index is exactly that order.
CREATE INDEX tasks_ready ON tasks (priority DESC, seq) WHERE status = 'QUEUED';
CREATE INDEX tasks_by_status ON tasks (status, seq);
CREATE INDEX tasks_by_type ON tasks (type, seq);
-- Throughput and latency figures of /api/stats read recent completions only.
CREATE INDEX tasks_completed ON tasks (completed_at) WHERE status = 'COMPLETED';

-- The subscription list: downstream waits for upstream. pending_deps counts the upstreams that are
-- not COMPLETED yet; the turn that completes a task decrements its dependents in the same commit.
CREATE TABLE task_edges (
    upstream    bigint NOT NULL,
    downstream  bigint NOT NULL,
    PRIMARY KEY (upstream, downstream)
);
CREATE INDEX task_edges_downstream ON task_edges (downstream, upstream);

-- Every transition, appended by the turn that makes it.
CREATE TABLE task_events (
    seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task         bigint      NOT NULL,
    at           timestamptz NOT NULL,
    from_status  text,
    to_status    text        NOT NULL,
    silo         text,
    attempt      integer,
    reason       text
);
CREATE INDEX task_events_task ON task_events (task, seq);

-- The ConcurrencyGrain: one row per execution slot; a RUNNING attempt holds exactly one. Silos
-- claim free slots with FOR UPDATE SKIP LOCKED, in the same transaction as the ready tasks.
CREATE TABLE slots (
    slot_no           integer PRIMARY KEY,
    task              bigint,
    attempt           integer,
    silo              text,
    leased_at         timestamptz,
    lease_expires_at  timestamptz
);
-- Ending an attempt frees its slot by task; heartbeats renew a silo's leases by silo; the limit
-- can be thousands of slots.
CREATE INDEX slots_task ON slots (task) WHERE task IS NOT NULL;
CREATE INDEX slots_silo ON slots (silo) WHERE task IS NOT NULL;

-- Maintained counters, so /api/stats never counts rows. Each status is spread over 16 shard rows
-- (a turn adds to the shard of its connection's backend) so that concurrent turns from several
-- silos do not all queue on one row lock; the count of a status is the sum of its shards.
CREATE TABLE status_counts (
    status  text    NOT NULL,
    shard   integer NOT NULL,
    count   bigint  NOT NULL,
    PRIMARY KEY (status, shard)
);
INSERT INTO status_counts (status, shard, count)
SELECT s.status, n.shard, 0
FROM (VALUES ('WAITING'), ('SCHEDULED'), ('QUEUED'), ('RUNNING'),
             ('COMPLETED'), ('FAILED'), ('CANCELLED'), ('UPSTREAM_FAILED')) AS s (status)
CROSS JOIN generate_series(0, 15) AS n (shard);

-- Durable timers, delivered as turns by whichever silo is alive. kind 'ready' makes a SCHEDULED
-- task QUEUED (run_at reached, retry backoff over). Due times live here, so a reminder that fell
-- due while every silo was down fires at the next start.
CREATE TABLE reminders (
    task    bigint      NOT NULL,
    kind    text        NOT NULL,
    due_at  timestamptz NOT NULL,
    reason  text,
    PRIMARY KEY (task, kind)
);
CREATE INDEX reminders_due ON reminders (due_at);

-- Membership: each silo registers and heartbeats.
CREATE TABLE silos (
    id            text        PRIMARY KEY,
    host          text        NOT NULL,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    status        text        NOT NULL,
    capacity      integer     NOT NULL
);
