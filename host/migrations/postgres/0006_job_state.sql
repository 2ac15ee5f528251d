-- What the scheduler writes on every tick (the next tick, the counters, the status) moves
-- out of `jobs` into a narrow `job_state` row per job, so the hot path never rewrites the
-- job's definition (its JSON) or the entries of its name and parent indexes: a claim's
-- update writes a ~60-byte row and two index entries, and a counter update is HOT.
-- One index serves both the claim (due ticks in order) and the job list sorted by `next`.
CREATE TABLE job_state (
    job_id BIGINT PRIMARY KEY,
    next_run_at BIGINT,
    status TEXT NOT NULL DEFAULT '',
    success_count BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    last_success BIGINT,
    last_error BIGINT
) WITH (fillfactor = 70);
INSERT INTO job_state (job_id, next_run_at, status, success_count, error_count, last_success, last_error)
    SELECT id, next_run_at, status, success_count, error_count, last_success, last_error FROM jobs;
CREATE INDEX job_state_next ON job_state (next_run_at, job_id);

DROP INDEX jobs_due;
ALTER TABLE jobs
    DROP COLUMN next_run_at,
    DROP COLUMN status,
    DROP COLUMN success_count,
    DROP COLUMN error_count,
    DROP COLUMN last_success,
    DROP COLUMN last_error;
ALTER TABLE jobs SET (fillfactor = 100);

-- `jobs` is no longer written on every tick, so the sort keys of the job list can be
-- indexed again (migration 0005 had to drop them).
CREATE INDEX jobs_displayname ON jobs (displayname, id);
CREATE INDEX jobs_schedule ON jobs (schedule, id);
