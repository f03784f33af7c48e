-- The dashboard's pictures of the last minutes (issue 10, point 7), kept small whatever is stored.
--
-- Failures counted per second by the commit that makes them, as completions are (0002): the
-- throughput chart sums at most 900 rows for 15 minutes. Rows older than an hour are pruned by the
-- writer.
CREATE TABLE failures_per_second (
    second  INTEGER PRIMARY KEY,  -- Unix seconds (UTC)
    count   INTEGER NOT NULL
);

-- The queue depth by status, sampled from status_counts every few seconds (History:SampleInterval)
-- by each silo's QueueDepthSampler; the first silo to sample a second wins. Pruned to an hour.
CREATE TABLE queue_depth_samples (
    second     INTEGER PRIMARY KEY,  -- Unix seconds (UTC)
    waiting    INTEGER NOT NULL,
    scheduled  INTEGER NOT NULL,
    queued     INTEGER NOT NULL,
    running    INTEGER NOT NULL
);
