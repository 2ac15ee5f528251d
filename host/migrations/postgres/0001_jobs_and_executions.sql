-- Jobs: the definition as JSON (`spec`), with the columns the list filters and sorts on,
-- and what running them changes.
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    displayname TEXT NOT NULL DEFAULT '',
    schedule TEXT NOT NULL DEFAULT '',
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    parent_job TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    next_run_at BIGINT,
    success_count BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    last_success BIGINT,
    last_error BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX jobs_parent ON jobs (parent_job) WHERE parent_job <> '';

-- Executions: written before the executor starts (state `scheduled` or `running`) and
-- completed after (`succeeded` or `failed`). Times are milliseconds since the Unix epoch.
CREATE TABLE executions (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL,
    job_name TEXT NOT NULL,
    group_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    scheduled_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    state TEXT NOT NULL,
    output BYTEA NOT NULL DEFAULT ''::bytea,
    output_truncated BOOLEAN NOT NULL DEFAULT FALSE,
    reason TEXT NOT NULL DEFAULT '',
    node TEXT NOT NULL
);
CREATE INDEX executions_by_job ON executions (job_id, id);
CREATE INDEX executions_open ON executions (state) WHERE state IN ('scheduled', 'running');
