-- Orleans reminders (Microsoft.Orleans.Reminders.AdoNet, UseAdoNetReminderService with
-- Invariant "Npgsql"), written for this project. Applied once, in the migrator's transaction,
-- after 0004, which created the OrleansQuery catalogue (see there for how Orleans uses it).
--
-- Contract notes (Orleans.Reminders.AdoNet 10.4.2): the provider refuses to start unless all
-- seven keys below exist. It binds @ServiceId, @GrainId (GrainId.ToString()), @ReminderName,
-- @StartTime (DateTime, UTC), @Period (milliseconds; an int, or a bigint beyond 2^31 ms),
-- @GrainHash, @BeginHash, @EndHash (the uint grain hash cast to a signed int) and @Version (the
-- ETag parsed as an int). It reads GrainId, ReminderName, StartTime, Period (GetInt64) and
-- Version (any integer) by name. The ETag of a reminder is its Version: every upsert changes it,
-- and a delete succeeds only for the ETag the caller holds.
--
-- Not the same thing as this project's own `reminders` table (0001): this one belongs to Orleans.

CREATE TABLE orleans_reminders (
    service_id     text        NOT NULL,
    grain_id       text        NOT NULL,
    reminder_name  text        NOT NULL,
    start_time     timestamptz NOT NULL,
    period_ms      bigint      NOT NULL,
    -- The grain's uniform hash as a signed int: the reminder service splits the hash ring among
    -- silos and each silo reads the reminders of its own ranges.
    grain_hash     integer     NOT NULL,
    version        integer     NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
);
-- Range reads, at start-up and whenever the ring changes.
CREATE INDEX orleans_reminders_by_hash ON orleans_reminders (service_id, grain_hash);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- Register or re-register: insert at version 0, or replace the schedule and step the version.
-- One statement, so two silos registering the same reminder at once cannot both insert. Answers
-- the new version, the reminder's new ETag.
('UpsertReminderRowKey', $q$
    INSERT INTO orleans_reminders
        (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
    VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
    ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
    SET start_time = excluded.start_time,
        period_ms  = excluded.period_ms,
        grain_hash = excluded.grain_hash,
        version    = orleans_reminders.version + 1
    RETURNING version AS "Version"
$q$),

-- All reminders of one grain.
('ReadReminderRowsKey', $q$
    SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
           period_ms AS "Period", version AS "Version"
    FROM orleans_reminders
    WHERE service_id = @ServiceId AND grain_id = @GrainId
$q$),

-- One reminder of one grain; no row when it does not exist.
('ReadReminderRowKey', $q$
    SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
           period_ms AS "Period", version AS "Version"
    FROM orleans_reminders
    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
$q$),

-- A range (BeginHash, EndHash] of the hash ring. Orleans picks this text when the range does
-- not wrap in signed order (BeginHash < EndHash as ints): the hashes strictly between.
('ReadRangeRows1Key', $q$
    SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
           period_ms AS "Period", version AS "Version"
    FROM orleans_reminders
    WHERE service_id = @ServiceId
      AND grain_hash > @BeginHash AND grain_hash <= @EndHash
$q$),

-- ... and this one when it wraps past the end of the signed range (BeginHash >= EndHash): the
-- hashes above BeginHash plus those up to EndHash. BeginHash = EndHash is the whole ring.
('ReadRangeRows2Key', $q$
    SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
           period_ms AS "Period", version AS "Version"
    FROM orleans_reminders
    WHERE service_id = @ServiceId
      AND (grain_hash > @BeginHash OR grain_hash <= @EndHash)
$q$),

-- Unregister: only the version the caller holds. Answers how many rows went (1 true, 0 false:
-- Orleans then re-reads and retries, or reports the reminder changed).
('DeleteReminderRowKey', $q$
    WITH deleted AS (
        DELETE FROM orleans_reminders
        WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
          AND version = @Version
        RETURNING 1
    )
    SELECT count(*) FROM deleted
$q$),

-- Every reminder of the service (Orleans' test-only clear).
('DeleteReminderRowsKey', $q$
    DELETE FROM orleans_reminders WHERE service_id = @ServiceId
$q$);
