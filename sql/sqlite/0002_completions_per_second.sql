-- Completions counted per second by the commit that makes them, so "completed in the last minute"
-- (/api/stats) sums at most 60 rows however fast tasks complete; counting the completion index
-- cost O(completions): about 100 ms a call after a burst of 1,000,000. Rows older than an hour are
-- pruned by the writer.
CREATE TABLE completions_per_second (
    second  INTEGER PRIMARY KEY,  -- Unix seconds (UTC)
    count   INTEGER NOT NULL
);

-- The last minute of a database that existed before this table.
INSERT INTO completions_per_second (second, count)
SELECT completed_at / 1000, count(*) FROM tasks INDEXED BY tasks_completed
WHERE status = 'COMPLETED' AND completed_at >= (CAST(strftime('%s', 'now') AS INTEGER) - 60) * 1000
GROUP BY completed_at / 1000;
