-- Orleans grain storage on SQLite (Microsoft.Orleans.Persistence.AdoNet, AddAdoNetGrainStorage
-- with Invariant "System.Data.SQLite", which Orleans maps to Microsoft.Data.Sqlite's factory),
-- written for this project. Applied once, inside the migrator's IMMEDIATE transaction.
--
-- How Orleans' ADO.NET providers talk to a database: at start-up the storage provider runs a
-- fixed SELECT of QueryKey, QueryText FROM OrleansQuery and from then on executes only the texts
-- it found there, binding parameters by name and reading result columns by name. The table below
-- is ours to shape; the catalogue's name, the keys, the parameter names and the result column
-- names are Orleans'.
--
-- Contract notes (Orleans.Persistence.AdoNet 10.4.2):
--  * The provider reads WriteToStorageKey, ReadFromStorageKey, ClearStorageKey (required) and
--    DeleteStorageKey (required only with DeleteStateOnClear = true).
--  * Every query gets the grain's identity: @ServiceId, @GrainTypeString, @GrainTypeHash,
--    @GrainIdHash, @GrainIdN0, @GrainIdN1 (the halves of a Guid key; 0 and the key for an
--    integer key; 0 and 0 for a string key) and @GrainIdExtensionString (the key extension or
--    the string key; NULL when there is none). Writes and clears also get @GrainStateVersion
--    (the grain's ETag as an int, NULL while it has none); writes get @PayloadBinary.
--  * The ETag is the row's version. A write or clear succeeds only against the version the grain
--    holds (or, for a grain with no ETag, only if no row exists yet) and answers the new
--    version. Anything else is a conflict, for which Orleans throws InconsistentStateException:
--    it reads no row, a NULL or the ETag it sent that way, so a refused write answers no row.
--
-- Transactions: every query text here is a set of statements that are each atomic on their own
-- (one UPDATE, one INSERT, one SELECT), so none opens a transaction of its own. The database
-- file is shared with this project's store, whose single writer holds BEGIN IMMEDIATE
-- transactions; Orleans' autocommit statements simply wait for the write lock (Microsoft.Data.Sqlite
-- retries a busy database until the command timeout, "Default Timeout" in the connection
-- string). A BEGIN ... COMMIT inside a query text would instead risk leaving a transaction open
-- on a pooled connection if a statement in the middle failed.

-- The catalogue every Orleans ADO.NET provider reads (Orleans names it OrleansQuery; SQLite
-- names are case-insensitive).
CREATE TABLE IF NOT EXISTS OrleansQuery (
    QueryKey  TEXT PRIMARY KEY,
    QueryText TEXT NOT NULL
);

-- One row per grain state; the unique index makes the identity columns one key. A key extension
-- of NULL and one of '' are different grains, hence the extra IS NULL term (SQLite's unique
-- indexes treat NULLs as distinct, so the plain column would let two NULL extensions coexist).
-- modified_at is Unix milliseconds, like the project's own tables.
CREATE TABLE orleans_storage (
    service_id          TEXT    NOT NULL,
    grain_type          TEXT    NOT NULL,
    grain_type_hash     INTEGER NOT NULL,
    grain_id_hash       INTEGER NOT NULL,
    grain_id_n0         INTEGER NOT NULL,
    grain_id_n1         INTEGER NOT NULL,
    grain_id_extension  TEXT,
    -- NULL after ClearStateAsync (DeleteStateOnClear = false): the grain exists but has no state.
    payload             BLOB,
    version             INTEGER NOT NULL,
    modified_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX orleans_storage_grain ON orleans_storage
    (grain_id_hash, grain_type_hash, service_id, grain_id_n0, grain_id_n1, grain_type,
     ifnull(grain_id_extension, ''), grain_id_extension IS NULL);

-- `x IS y` is SQLite's NULL-safe equality: the key extension matches when both are NULL.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- Read: the payload and the version, or no row for a grain never written.
('ReadFromStorageKey', '
    SELECT payload AS PayloadBinary, version AS Version
    FROM orleans_storage
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND service_id = @ServiceId
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_type = @GrainTypeString
      AND grain_id_extension IS @GrainIdExtensionString
'),

-- Write. SQLite has no data-modifying CTEs, so two statements whose conditions exclude each
-- other; Orleans reads the rows of both as one answer:
--  1. with an ETag: update the row holding exactly that version, answering the new version;
--  2. without one: insert the first version; the unique index turns it into a no-op when a row
--     already exists (another activation got there first, or the state was cleared rather than
--     deleted).
-- Nothing written, no row: a conflict.
('WriteToStorageKey', '
    UPDATE orleans_storage
    SET payload = @PayloadBinary, version = version + 1,
        modified_at = CAST((julianday(''now'') - 2440587.5) * 86400000 AS INTEGER)
    WHERE @GrainStateVersion IS NOT NULL
      AND grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND service_id = @ServiceId
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_type = @GrainTypeString
      AND grain_id_extension IS @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version AS NewGrainStateVersion;

    INSERT INTO orleans_storage
        (service_id, grain_type, grain_type_hash, grain_id_hash, grain_id_n0, grain_id_n1,
         grain_id_extension, payload, version, modified_at)
    SELECT @ServiceId, @GrainTypeString, @GrainTypeHash, @GrainIdHash, @GrainIdN0, @GrainIdN1,
           @GrainIdExtensionString, @PayloadBinary, 1,
           CAST((julianday(''now'') - 2440587.5) * 86400000 AS INTEGER)
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version AS NewGrainStateVersion;
'),

-- Clear, keeping the row: drop the payload and step the version, for the version held only.
-- Answers the new version, or no row (a conflict) when the version has moved on.
('ClearStorageKey', '
    UPDATE orleans_storage
    SET payload = NULL, version = version + 1,
        modified_at = CAST((julianday(''now'') - 2440587.5) * 86400000 AS INTEGER)
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND service_id = @ServiceId
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_type = @GrainTypeString
      AND grain_id_extension IS @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version AS NewGrainStateVersion
'),

-- Clear with DeleteStateOnClear = true: remove the row, for the version held only. Orleans wants
-- an answer different from the ETag it sent to call it a success (it then forgets the ETag), so
-- this answers the deleted version + 1; no row when the version has moved on.
('DeleteStorageKey', '
    DELETE FROM orleans_storage
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND service_id = @ServiceId
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_type = @GrainTypeString
      AND grain_id_extension IS @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version + 1 AS NewGrainStateVersion
');
