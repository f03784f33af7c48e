-- The W3C traceparent of the request that submitted the task (issue 10): the task's trace follows
-- it from the HTTP request through its attempts (one span each, in the executor) and the completion
-- that releases its dependents, on whichever silo they run, and the logs carry its trace id. Written
-- once, at submission; null for tasks submitted before this migration or without a trace.
ALTER TABLE tasks ADD COLUMN trace_parent text;
