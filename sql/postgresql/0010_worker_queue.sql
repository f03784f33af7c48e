-- External workers (issue 11). A QUEUED task waits either for a silo (queue NULL: a silo handler
-- runs it, or the simulator) or for an external worker that lists its type among its capabilities
-- (queue 'worker'). The column is set each time the task becomes QUEUED and kept while its attempt
-- runs, so a RUNNING task with queue 'worker' runs on the worker named by worker_id. The silos'
-- ready index leaves the workers' tasks out; the workers' index finds them by type.
ALTER TABLE tasks ADD COLUMN queue text;
DROP INDEX tasks_ready;
CREATE INDEX tasks_ready ON tasks (priority DESC, seq) WHERE status = 'QUEUED' AND queue IS NULL;
CREATE INDEX tasks_worker_ready ON tasks (type, priority DESC, seq) WHERE status = 'QUEUED' AND queue IS NOT NULL;
