-- The job list at a million jobs (issue 20): every filter and sort an index answers.
--
-- The counters and status move out of `job_state` into `job_totals`, where they are
-- indexed per tenant: the claim, which rewrites `job_state` at every tick, writes no more
-- index entries than before, and a sorted page is an index walk. `tenant_id` is repeated
-- here (it never changes) so that a tenant's sorted page walks its own entries only.
CREATE TABLE job_totals (
    job_id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    success_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    last_success INTEGER,
    last_error INTEGER
);
INSERT INTO job_totals (job_id, tenant_id, status, success_count, error_count, last_success, last_error)
    SELECT job_id, jobs.tenant_id, status, success_count, error_count, last_success, last_error
    FROM job_state JOIN jobs ON jobs.id = job_state.job_id;
CREATE INDEX job_totals_success_count ON job_totals (tenant_id, success_count, job_id);
CREATE INDEX job_totals_error_count ON job_totals (tenant_id, error_count, job_id);
CREATE INDEX job_totals_last_success ON job_totals (tenant_id, last_success, job_id);
CREATE INDEX job_totals_last_error ON job_totals (tenant_id, last_error, job_id);
ALTER TABLE job_state DROP COLUMN status;
ALTER TABLE job_state DROP COLUMN success_count;
ALTER TABLE job_state DROP COLUMN error_count;
ALTER TABLE job_state DROP COLUMN last_success;
ALTER TABLE job_state DROP COLUMN last_error;

-- `metadata[KEY]=VALUE`: one row per pair, written with the job's definition.
CREATE TABLE job_metadata (
    job_id INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
) WITHOUT ROWID;
INSERT INTO job_metadata (job_id, tenant_id, key, value)
    SELECT jobs.id, jobs.tenant_id, m.key, m.value
    FROM jobs, json_each(jobs.spec, '$.metadata') AS m
    WHERE m.type = 'text';
CREATE INDEX job_metadata_pair ON job_metadata (tenant_id, key, value, job_id);

-- `q`: a substring of the name or the display name, found through the trigram index of
-- FTS5 (case-insensitive, as LIKE is), kept by triggers; the job's id is the rowid.
CREATE VIRTUAL TABLE job_search USING fts5 (
    name, displayname, content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO job_search (rowid, name, displayname) SELECT id, name, displayname FROM jobs;
CREATE TRIGGER job_search_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_search (rowid, name, displayname) VALUES (new.id, new.name, new.displayname);
END;
CREATE TRIGGER job_search_update AFTER UPDATE OF name, displayname ON jobs
    WHEN old.name IS NOT new.name OR old.displayname IS NOT new.displayname BEGIN
    DELETE FROM job_search WHERE rowid = old.id;
    INSERT INTO job_search (rowid, name, displayname) VALUES (new.id, new.name, new.displayname);
END;
CREATE TRIGGER job_search_delete AFTER DELETE ON jobs BEGIN
    DELETE FROM job_search WHERE rowid = old.id;
END;

-- `executor=NAME` and `disabled=BOOL`, per tenant. The executor's index is on the
-- expression the filter writes (`Dialect::EXECUTOR_OF_SPEC`).
CREATE INDEX jobs_executor ON jobs (tenant_id, json_extract(spec, '$.executor'), id);
CREATE INDEX jobs_disabled ON jobs (tenant_id, disabled, id);
