-- The root of an UPSTREAM_FAILED task's failure: the task whose FAILED or CANCELLED end doomed it,
-- and that end. A dependent that learns of the failure from its dependencies' rows (on
-- activation, when woken, by the sweeper, or when submitted after it) names the same root as one
-- told down the graph; without it, it could only name the dependency it read.
ALTER TABLE tasks ADD COLUMN cause_id text, ADD COLUMN cause_status text;
