-- The job list at a million jobs (issue 20): every filter and sort an index answers.
--
-- The counters and status move out of `job_state` into `job_totals`, where they are
-- indexed per tenant. The claim rewrites `job_state` at every tick: had the counters
-- stayed there with indexes, each claim would write their index entries too (no HOT
-- update); apart, the claim writes what it wrote before, and a sorted page is an index
-- walk. `tenant_id` is repeated here (it never changes) so that a tenant's sorted page
-- walks its own entries only.
CREATE TABLE job_totals (
    job_id BIGINT PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    success_count BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    last_success BIGINT,
    last_error BIGINT
) WITH (fillfactor = 80);
INSERT INTO job_totals (job_id, tenant_id, status, success_count, error_count, last_success, last_error)
    SELECT job_id, jobs.tenant_id, status, success_count, error_count, last_success, last_error
    FROM job_state JOIN jobs ON jobs.id = job_state.job_id;
CREATE INDEX job_totals_success_count ON job_totals (tenant_id, success_count, job_id);
CREATE INDEX job_totals_error_count ON job_totals (tenant_id, error_count, job_id);
-- Jobs that never succeeded (failed) sort first in ascending order and last in
-- descending order, as on SQLite: these two indexes keep NULLs first to serve both.
CREATE INDEX job_totals_last_success ON job_totals (tenant_id, last_success NULLS FIRST, job_id);
CREATE INDEX job_totals_last_error ON job_totals (tenant_id, last_error NULLS FIRST, job_id);
ALTER TABLE job_state
    DROP COLUMN status,
    DROP COLUMN success_count,
    DROP COLUMN error_count,
    DROP COLUMN last_success,
    DROP COLUMN last_error;

-- `metadata[KEY]=VALUE`: one row per pair, written with the job's definition.
CREATE TABLE job_metadata (
    job_id BIGINT NOT NULL,
    tenant_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
);
INSERT INTO job_metadata (job_id, tenant_id, key, value)
    SELECT jobs.id, jobs.tenant_id, m.key, m.value
    FROM jobs, jsonb_each_text(jobs.spec::jsonb -> 'metadata') AS m
    WHERE jsonb_typeof(jobs.spec::jsonb -> 'metadata') = 'object' AND m.value IS NOT NULL;
CREATE INDEX job_metadata_pair ON job_metadata (tenant_id, key, value, job_id);

-- `q`: a substring of the name or the display name (ILIKE), through pg_trgm's GIN
-- indexes. pg_trgm ships with PostgreSQL and is a trusted extension: the database's
-- owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX jobs_name_trigrams ON jobs USING gin (name gin_trgm_ops);
CREATE INDEX jobs_displayname_trigrams ON jobs USING gin (displayname gin_trgm_ops);

-- `executor=NAME` and `disabled=BOOL`, per tenant. The executor's index is on the
-- expression the filter writes (`Dialect::EXECUTOR_OF_SPEC`).
CREATE INDEX jobs_executor ON jobs (tenant_id, (spec::jsonb ->> 'executor'), id);
CREATE INDEX jobs_disabled ON jobs (tenant_id, disabled, id);
