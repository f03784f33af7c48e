-- The move onto the Orleans runtime (issue 9). The tables keep their meaning as the read model
-- (lists, cursors, counters, events, the dashboard); what changes is who writes them: each
-- TaskGrain writes its own row through our grain storage provider (src/Grains/Storage), with the
-- row's version as the ETag, and the ConcurrencyGrain writes its slot holders. The home-made
-- membership (silos), reminders and lease-bearing slots of the old layer go; Orleans' membership and
-- reminders replace them.

-- A SCHEDULED task's due time (its run_at, or the end of a retry's backoff) and which of the two
-- it is; recovery finds the due ones by this index. grant_id is the last slot grant the task saw
-- (the fence of its attempts); attempt_silo the Orleans address of the silo running its attempt.
ALTER TABLE tasks ADD COLUMN due_at INTEGER;
ALTER TABLE tasks ADD COLUMN due_kind TEXT;
ALTER TABLE tasks ADD COLUMN grant_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN attempt_silo TEXT;

UPDATE tasks SET
    due_at = coalesce((SELECT r.due_at FROM reminders r WHERE r.task = tasks.seq AND r.kind = 'ready'), run_at, created_at),
    due_kind = CASE WHEN (SELECT r.reason FROM reminders r WHERE r.task = tasks.seq AND r.kind = 'ready') = 'retry backoff over'
                    THEN 'backoff' ELSE 'run_at' END
WHERE status = 'SCHEDULED';
CREATE INDEX tasks_due ON tasks (due_at) WHERE status = 'SCHEDULED';

-- Attempts that were running when a process of the old layer stopped are handed back without
-- counting: nothing in the new layer holds their slots.
INSERT INTO task_events (task, at, from_status, to_status, silo, attempt, reason)
SELECT seq, CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'RUNNING', 'QUEUED', worker_id, attempts,
       'handed back: the scheduler was upgraded while attempt ' || attempts || ' ran'
FROM tasks WHERE status = 'RUNNING';
UPDATE status_counts SET count = count + (SELECT count(*) FROM tasks WHERE status = 'RUNNING') WHERE status = 'QUEUED';
UPDATE status_counts SET count = 0 WHERE status = 'RUNNING';
UPDATE tasks SET status = 'QUEUED', attempts = attempts - 1, worker_id = NULL, started_at = NULL,
                 queued_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000, version = version + 1
WHERE status = 'RUNNING';

DROP TABLE reminders;
DROP TABLE silos;
DROP TABLE slots;

-- The ConcurrencyGrain's state: its version (the ETag), the next grant id (grants are unique and
-- increasing for the database's life, so a task can tell a stale grant), and one row per held slot.
-- A holder is written before its grant is sent, so the limit survives the grain's re-activation.
CREATE TABLE concurrency (
    id          INTEGER PRIMARY KEY CHECK (id = 0),
    version     INTEGER NOT NULL,
    next_grant  INTEGER NOT NULL
);
CREATE TABLE slot_holders (
    slot_no     INTEGER PRIMARY KEY,
    task_id     TEXT    NOT NULL,
    grant_id    INTEGER NOT NULL,
    granted_at  INTEGER NOT NULL
);

-- Orleans reminders of the one-process mode (src/Grains/Storage/SqliteReminderTable.cs): Orleans
-- has no SQLite reminder script, so the table is ours, in the same file and the same group commit.
-- grain_hash is the grain's uniform hash, by which Orleans splits reminders between silos.
CREATE TABLE orleans_reminders (
    grain_id    TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    grain_hash  INTEGER NOT NULL,
    start_at    INTEGER NOT NULL,
    period_ms   INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (grain_id, name)
) WITHOUT ROWID;
CREATE INDEX orleans_reminders_hash ON orleans_reminders (grain_hash);
