-- Completions counted per second by the turn that makes them, so "completed in the last minute"
-- (/api/stats) sums a few hundred rows however fast tasks complete; counting the completion index
-- cost O(completions). Like status_counts, each second is spread over 16 shard rows (a turn adds to
-- the shard of its connection's backend) so that silos completing at once do not queue on one row
-- lock. Rows older than an hour are pruned by the turns.
CREATE TABLE completions_per_second (
    second  bigint  NOT NULL,  -- Unix seconds (UTC)
    shard   integer NOT NULL,
    count   bigint  NOT NULL,
    PRIMARY KEY (second, shard)
);

-- The last minute of a database that existed before this table.
INSERT INTO completions_per_second (second, shard, count)
SELECT floor(extract(epoch FROM completed_at))::bigint, 0, count(*)
FROM tasks
WHERE status = 'COMPLETED' AND completed_at >= clock_timestamp() - interval '60 seconds'
GROUP BY 1;
