-- The dashboard's pictures of the last minutes (issue 10, point 7), kept small whatever is stored;
-- the same tables as sql/sqlite/0006_dashboard_history.sql.
--
-- Failures counted per second by the commit that makes them, sharded like completions_per_second
-- (0002) so silos failing tasks at once do not queue on one row lock. Rows older than an hour are
-- pruned by the writers.
CREATE TABLE failures_per_second (
    second  bigint  NOT NULL,  -- Unix seconds (UTC)
    shard   integer NOT NULL,
    count   bigint  NOT NULL,
    PRIMARY KEY (second, shard)
);

-- The queue depth by status, sampled from status_counts every few seconds (History:SampleInterval)
-- by each silo's QueueDepthSampler; the first silo to sample a second wins (ON CONFLICT DO NOTHING).
-- Pruned to an hour.
CREATE TABLE queue_depth_samples (
    second     bigint PRIMARY KEY,  -- Unix seconds (UTC)
    waiting    bigint NOT NULL,
    scheduled  bigint NOT NULL,
    queued     bigint NOT NULL,
    running    bigint NOT NULL
);
