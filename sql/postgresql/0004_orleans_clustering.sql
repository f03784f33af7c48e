-- Orleans cluster membership (Microsoft.Orleans.Clustering.AdoNet, UseAdoNetClustering with
-- Invariant "Npgsql"), written for this project. Applied once, in the migrator's transaction.
--
-- How Orleans' ADO.NET providers talk to a database: at start-up each provider runs the fixed
-- statement `SELECT QueryKey, QueryText FROM OrleansQuery` and from then on executes only the
-- texts it found there, binding parameters by name (@DeploymentId, @Version, ...) and reading
-- result columns by name. So the tables below are ours to shape; what is fixed is the name of
-- the OrleansQuery table, the keys, the parameter names and the names (and .NET types) of the
-- columns each query returns. Result columns are aliased with quoted identifiers so that they
-- come back spelled exactly as Orleans asks for them.
--
-- Contract notes (Orleans.Clustering.AdoNet 10.4.2):
--  * The clustering provider refuses to start unless all nine keys inserted below exist; the
--    tenth, CleanupDefunctSiloEntryKey, is optional and, when present, replaces the bulk
--    CleanupDefunctSiloEntriesKey for the cleanup of dead silos.
--  * "Boolean" queries return one row with one column; a value > 0 means success.
--  * The version row of a deployment is the table's optimistic-concurrency token: every insert
--    or update of a silo row must name the version it read (@Version) and bump it, and must do
--    nothing when the version has moved on.
--  * Times are bound as DateTime with DbType.DateTime (Kind UTC), which Npgsql sends as
--    timestamptz, and are read back as DateTime.
--  * Status is Orleans' SiloStatus as an integer: 1 Joining, 2 Active (older name), 3 Active,
--    4 ShuttingDown, 5 Stopping, 6 Dead.

-- The query catalogue every Orleans ADO.NET provider reads. Shared by clustering, reminders and
-- grain storage (0005, 0006 add their rows), hence IF NOT EXISTS. Orleans' own statement names
-- it unquoted, so it lives here as orleansquery.
CREATE TABLE IF NOT EXISTS OrleansQuery (
    QueryKey  text PRIMARY KEY,
    QueryText text NOT NULL
);

-- One row per deployment (Orleans' ClusterId): the membership table's version. Every change to
-- the deployment's silo rows goes through this row, and its row lock is what serializes
-- concurrent membership writers.
CREATE TABLE orleans_membership_version (
    deployment_id text        PRIMARY KEY,
    version       integer     NOT NULL DEFAULT 0,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per silo incarnation (address, port and generation: a restarted silo is a new row).
-- Deleting a deployment's version row removes its silos with it.
CREATE TABLE orleans_membership (
    deployment_id  text        NOT NULL REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE,
    address        text        NOT NULL,
    port           integer     NOT NULL,
    generation     integer     NOT NULL,
    silo_name      text        NOT NULL,
    host_name      text        NOT NULL,
    status         integer     NOT NULL,
    -- Orleans reads this with GetInt32: never NULL; 0 means the silo has no gateway.
    proxy_port     integer     NOT NULL DEFAULT 0,
    -- "silo-address,time|silo-address,time": who suspects this silo, formatted by Orleans.
    suspect_times  text,
    start_time     timestamptz NOT NULL,
    i_am_alive     timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- Called by every silo at start-up: make sure the deployment has a version row. Answers 1 when
-- this call created it, 0 when it was already there (both are fine for Orleans).
('InsertMembershipVersionKey', $q$
    WITH created AS (
        INSERT INTO orleans_membership_version (deployment_id)
        VALUES (@DeploymentId)
        ON CONFLICT (deployment_id) DO NOTHING
        RETURNING 1
    )
    SELECT count(*) FROM created
$q$),

-- A joining silo adds its row, conditional on the version it read. The version row is updated
-- first: its row lock makes concurrent writers queue, and once this statement holds it, a
-- version that still matches proves no other insert or update happened since the caller read
-- the table, so the NOT EXISTS (checked against the statement's snapshot) is still true. Either
-- both the bump and the insert happen, or neither does; the answer is the number inserted.
('InsertMembershipKey', $q$
    WITH bumped AS (
        UPDATE orleans_membership_version
        SET version = version + 1, changed_at = now()
        WHERE deployment_id = @DeploymentId
          AND version = @Version
          AND NOT EXISTS (
              SELECT 1 FROM orleans_membership
              WHERE deployment_id = @DeploymentId
                AND address = @Address AND port = @Port AND generation = @Generation)
        RETURNING deployment_id
    ), inserted AS (
        INSERT INTO orleans_membership
            (deployment_id, address, port, generation, silo_name, host_name, status,
             proxy_port, start_time, i_am_alive)
        SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName, @Status,
               @ProxyPort, @StartTime, @IAmAliveTime
        FROM bumped
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) FROM inserted
$q$),

-- A status change, suspicion or death declaration, conditional on the version read. As above,
-- the version row is taken first and only bumped when the silo row exists; the silo row is then
-- updated in the same statement. The one way to answer 0 after bumping is a silo row deleted
-- between this statement's snapshot and its update (only the cleanup of long-dead silos deletes
-- rows); Orleans then re-reads the table and retries, and an extra version step is harmless.
('UpdateMembershipKey', $q$
    WITH bumped AS (
        UPDATE orleans_membership_version
        SET version = version + 1, changed_at = now()
        WHERE deployment_id = @DeploymentId
          AND version = @Version
          AND EXISTS (
              SELECT 1 FROM orleans_membership
              WHERE deployment_id = @DeploymentId
                AND address = @Address AND port = @Port AND generation = @Generation)
        RETURNING deployment_id
    ), updated AS (
        UPDATE orleans_membership m
        SET status = @Status, suspect_times = @SuspectTimes, i_am_alive = @IAmAliveTime
        FROM bumped
        WHERE m.deployment_id = bumped.deployment_id
          AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
        RETURNING 1
    )
    SELECT count(*) FROM updated
$q$),

-- The heartbeat. Deliberately not versioned: it changes no membership decision, and bumping the
-- version on every heartbeat would make concurrent membership writes fail for nothing. Orleans
-- does not read an answer.
('UpdateIAmAlivetimeKey', $q$
    UPDATE orleans_membership
    SET i_am_alive = @IAmAliveTime
    WHERE deployment_id = @DeploymentId
      AND address = @Address AND port = @Port AND generation = @Generation
$q$),

-- One silo's row together with the table version. The version row is the left side of the
-- join, so the version comes back even when the silo has no row (Orleans reads the first row's
-- Version and treats a NULL StartTime as "no entry").
('MembershipReadRowKey', $q$
    SELECT v.deployment_id AS "DeploymentId",
           m.address       AS "Address",
           m.port          AS "Port",
           m.generation    AS "Generation",
           m.silo_name     AS "SiloName",
           m.host_name     AS "HostName",
           m.status        AS "Status",
           m.proxy_port    AS "ProxyPort",
           m.suspect_times AS "SuspectTimes",
           m.start_time    AS "StartTime",
           m.i_am_alive    AS "IAmAliveTime",
           v.version       AS "Version"
    FROM orleans_membership_version v
    LEFT JOIN orleans_membership m
           ON m.deployment_id = v.deployment_id
          AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
    WHERE v.deployment_id = @DeploymentId
$q$),

-- The whole table with its version; same shape as MembershipReadRowKey. One statement, so the
-- rows and the version come from one snapshot.
('MembershipReadAllKey', $q$
    SELECT v.deployment_id AS "DeploymentId",
           m.address       AS "Address",
           m.port          AS "Port",
           m.generation    AS "Generation",
           m.silo_name     AS "SiloName",
           m.host_name     AS "HostName",
           m.status        AS "Status",
           m.proxy_port    AS "ProxyPort",
           m.suspect_times AS "SuspectTimes",
           m.start_time    AS "StartTime",
           m.i_am_alive    AS "IAmAliveTime",
           v.version       AS "Version"
    FROM orleans_membership_version v
    LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
    WHERE v.deployment_id = @DeploymentId
$q$),

-- Clients look for gateways here: silos in the given status (Orleans passes Active) that
-- listen for clients. Orleans builds each gateway address from Address, ProxyPort, Generation.
('GatewaysQueryKey', $q$
    SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
    FROM orleans_membership
    WHERE deployment_id = @DeploymentId
      AND status = @Status
      AND proxy_port > 0
$q$),

-- Forget a deployment entirely (Orleans' test and management path). The silo rows go with the
-- version row (ON DELETE CASCADE).
('DeleteMembershipTableEntriesKey', $q$
    DELETE FROM orleans_membership_version
    WHERE deployment_id = @DeploymentId
$q$),

-- Bulk cleanup of long-dead silos, with @IAmAliveTime as the cut-off. Orleans 10.4.2 uses this
-- only when CleanupDefunctSiloEntryKey (below) is missing, but refuses to start without it.
-- Only Dead rows are removed, and only when both their start and their last heartbeat are older
-- than the cut-off: a row of any other status still describes a silo that may be alive.
('CleanupDefunctSiloEntriesKey', $q$
    DELETE FROM orleans_membership
    WHERE deployment_id = @DeploymentId
      AND status = 6
      AND i_am_alive < @IAmAliveTime
      AND start_time < @IAmAliveTime
$q$),

-- Per-row cleanup (optional key, used by 10.4.2 when present). Orleans reads the table, picks
-- the Dead rows it judges defunct and deletes each one naming the values it read. The row goes
-- only if it is still exactly what Orleans judged: same start, same last heartbeat, same
-- suspicions, still Dead. Anything changed meanwhile leaves the row for a later pass.
('CleanupDefunctSiloEntryKey', $q$
    DELETE FROM orleans_membership
    WHERE deployment_id = @DeploymentId
      AND address = @Address AND port = @Port AND generation = @Generation
      AND status = 6
      AND start_time = @StartTime
      AND i_am_alive = @IAmAliveTime
      AND suspect_times IS NOT DISTINCT FROM @SuspectTimes
$q$);
