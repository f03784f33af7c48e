-- Orleans grain storage (Microsoft.Orleans.Persistence.AdoNet, AddAdoNetGrainStorage with
-- Invariant "Npgsql"), written for this project. Applied once, in the migrator's transaction,
-- after 0004, which created the OrleansQuery catalogue (see there for how Orleans uses it).
--
-- Contract notes (Orleans.Persistence.AdoNet 10.4.2):
--  * At start-up the provider reads only WriteToStorageKey, ReadFromStorageKey, ClearStorageKey
--    (required) and DeleteStorageKey (required only with DeleteStateOnClear = true).
--  * Every query gets the grain's identity: @ServiceId, @GrainTypeString (the grain class name),
--    @GrainTypeHash and @GrainIdHash (int hashes Orleans computes), @GrainIdN0 and @GrainIdN1
--    (the halves of a Guid key; 0 and the key for an integer key; 0 and 0 for a string key) and
--    @GrainIdExtensionString (the key extension or the string key; NULL when there is none).
--    Writes and clears also get @GrainStateVersion (the grain's ETag as an int, NULL while it
--    has none); writes get @PayloadBinary.
--  * The ETag is the row's version. A write or clear succeeds only against the version the grain
--    holds (or, for a grain with no ETag, only if no row exists yet) and answers the new
--    version. Anything else is a conflict, for which Orleans throws InconsistentStateException:
--    it reads no row, a NULL or the ETag it sent that way, so a refused write answers no row.

-- One row per grain state. The identity is spread over several columns because that is how
-- Orleans hands it over; the unique index below makes it one key. A key extension of NULL and
-- one of '' are different grains, hence the extra IS NULL term (a plain unique index would let
-- two NULL extensions coexist).
CREATE TABLE orleans_storage (
    service_id          text        NOT NULL,
    grain_type          text        NOT NULL,
    grain_type_hash     integer     NOT NULL,
    grain_id_hash       integer     NOT NULL,
    grain_id_n0         bigint      NOT NULL,
    grain_id_n1         bigint      NOT NULL,
    grain_id_extension  text,
    -- NULL after ClearStateAsync (DeleteStateOnClear = false): the grain exists but has no state.
    payload             bytea,
    version             integer     NOT NULL,
    modified_at         timestamptz NOT NULL DEFAULT now()
);
-- The hashes lead, so a lookup narrows to one or a few rows before the text columns are compared.
CREATE UNIQUE INDEX orleans_storage_grain ON orleans_storage
    (grain_id_hash, grain_type_hash, service_id, grain_id_n0, grain_id_n1, grain_type,
     coalesce(grain_id_extension, ''), (grain_id_extension IS NULL));

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- Read: the payload and the version, or no row for a grain never written.
('ReadFromStorageKey', $q$
    SELECT payload AS "PayloadBinary", version AS "Version"
    FROM orleans_storage
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND service_id = @ServiceId
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_type = @GrainTypeString
      AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
$q$),

-- Write, in one statement and without a function: with an ETag, update the row holding exactly
-- that version; without one, insert the first version, which the unique index turns into a
-- no-op when a row already exists (another activation got there first, or the state was
-- cleared rather than deleted). The two branches exclude each other, so the answer is one row
-- with the new version, or no row when nothing was written.
('WriteToStorageKey', $q$
    WITH updated AS (
        UPDATE orleans_storage
        SET payload = @PayloadBinary, version = version + 1, modified_at = now()
        WHERE @GrainStateVersion IS NOT NULL
          AND grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
          AND service_id = @ServiceId
          AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
          AND grain_type = @GrainTypeString
          AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
          AND version = @GrainStateVersion
        RETURNING version
    ), inserted AS (
        INSERT INTO orleans_storage
            (service_id, grain_type, grain_type_hash, grain_id_hash, grain_id_n0, grain_id_n1,
             grain_id_extension, payload, version)
        SELECT @ServiceId, @GrainTypeString, @GrainTypeHash, @GrainIdHash, @GrainIdN0, @GrainIdN1,
               @GrainIdExtensionString, @PayloadBinary, 1
        WHERE @GrainStateVersion IS NULL
        ON CONFLICT DO NOTHING
        RETURNING version
    )
    SELECT version AS "NewGrainStateVersion" FROM updated
    UNION ALL
    SELECT version FROM inserted
$q$),

-- Clear, keeping the row: drop the payload and step the version, for the version held only.
-- Answers the new version, or no row (a conflict) when the version has moved on.
('ClearStorageKey', $q$
    UPDATE orleans_storage
    SET payload = NULL, version = version + 1, modified_at = now()
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND service_id = @ServiceId
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_type = @GrainTypeString
      AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version AS "NewGrainStateVersion"
$q$),

-- Clear with DeleteStateOnClear = true: remove the row, for the version held only. Orleans wants
-- an answer different from the ETag it sent to call it a success (it then forgets the ETag), so
-- this answers the deleted version + 1; no row when the version has moved on.
('DeleteStorageKey', $q$
    DELETE FROM orleans_storage
    WHERE grain_id_hash = @GrainIdHash AND grain_type_hash = @GrainTypeHash
      AND service_id = @ServiceId
      AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
      AND grain_type = @GrainTypeString
      AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
      AND version = @GrainStateVersion
    RETURNING version + 1 AS "NewGrainStateVersion"
$q$);
