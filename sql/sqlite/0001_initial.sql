-- OrleansScheduler schema, SQLite. Applied by the store at start-up inside one IMMEDIATE
-- transaction; the version is recorded in schema_version. Times are Unix milliseconds (UTC).

-- One row per TaskGrain. seq is submission order (the cursor of listings and the tie-break of
-- claims); id is the user's name for the task.
CREATE TABLE tasks (
    seq           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    type          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    priority      INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    payload       TEXT,
    run_at        INTEGER,
    timeout_ms    INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    pending_deps  INTEGER NOT NULL,
    worker_id     TEXT,
    created_at    INTEGER NOT NULL,
    queued_at     INTEGER,
    started_at    INTEGER,
    completed_at  INTEGER,
    result        TEXT,
    error         TEXT,
    -- Retry policy: the delay before retry n is min(max, base * 2^(n-1)), with jitter.
    retry_backoff_ms      INTEGER NOT NULL DEFAULT 0,
    retry_backoff_max_ms  INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 0
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
    upstream    INTEGER NOT NULL,
    downstream  INTEGER NOT NULL,
    PRIMARY KEY (upstream, downstream)
) WITHOUT ROWID;
CREATE INDEX task_edges_downstream ON task_edges (downstream, upstream);

-- Every transition, appended by the turn that makes it.
CREATE TABLE task_events (
    seq          INTEGER PRIMARY KEY,
    task         INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    from_status  TEXT,
    to_status    TEXT    NOT NULL,
    silo         TEXT,
    attempt      INTEGER,
    reason       TEXT
);
CREATE INDEX task_events_task ON task_events (task, seq);

-- The ConcurrencyGrain: one row per execution slot; a RUNNING attempt holds exactly one.
CREATE TABLE slots (
    slot_no           INTEGER PRIMARY KEY,
    task              INTEGER,
    attempt           INTEGER,
    silo              TEXT,
    leased_at         INTEGER,
    lease_expires_at  INTEGER
);
-- Ending an attempt frees its slot by task; the limit can be thousands of slots.
CREATE INDEX slots_task ON slots (task) WHERE task IS NOT NULL;

-- Maintained counters, so /api/stats never counts rows.
CREATE TABLE status_counts (
    status  TEXT PRIMARY KEY,
    count   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO status_counts (status, count) VALUES
    ('WAITING', 0), ('SCHEDULED', 0), ('QUEUED', 0), ('RUNNING', 0),
    ('COMPLETED', 0), ('FAILED', 0), ('CANCELLED', 0), ('UPSTREAM_FAILED', 0);

-- Durable timers, delivered as turns by whichever silo is alive. kind 'ready' makes a SCHEDULED
-- task QUEUED (run_at reached, retry backoff over). Due times live here, so a reminder that fell
-- due while every silo was down fires at the next start.
CREATE TABLE reminders (
    task    INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    due_at  INTEGER NOT NULL,
    reason  TEXT,
    PRIMARY KEY (task, kind)
) WITHOUT ROWID;
CREATE INDEX reminders_due ON reminders (due_at);

-- Membership: each silo registers and heartbeats.
CREATE TABLE silos (
    id            TEXT PRIMARY KEY,
    host          TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    capacity      INTEGER NOT NULL
);
