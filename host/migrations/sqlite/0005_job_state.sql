-- What the scheduler writes on every tick (the next tick, the counters, the status) moves
-- out of `jobs` into a narrow `job_state` row per job, so the hot path never rewrites the
-- job's definition or its indexes. One index serves both the claim (due ticks in order)
-- and the job list sorted by `next`.
CREATE TABLE job_state (
    job_id INTEGER PRIMARY KEY,
    next_run_at BIGINT,
    status TEXT NOT NULL DEFAULT '',
    success_count BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    last_success BIGINT,
    last_error BIGINT
);
INSERT INTO job_state (job_id, next_run_at, status, success_count, error_count, last_success, last_error)
    SELECT id, next_run_at, status, success_count, error_count, last_success, last_error FROM jobs;
CREATE INDEX job_state_next ON job_state (next_run_at, job_id);

DROP INDEX jobs_next;
ALTER TABLE jobs DROP COLUMN next_run_at;
ALTER TABLE jobs DROP COLUMN status;
ALTER TABLE jobs DROP COLUMN success_count;
ALTER TABLE jobs DROP COLUMN error_count;
ALTER TABLE jobs DROP COLUMN last_success;
ALTER TABLE jobs DROP COLUMN last_error;
