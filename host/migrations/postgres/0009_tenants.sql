-- Tenants: every job, executor upload and secret belongs to one. Tenant 1, `default`, is
-- the operator's own: it owns everything written before tenants existed, and its grants
-- are the server's `--allow` flags. Other tenants get what the admin grants (`grants`,
-- `CAPABILITY -> [PATTERN]` as JSON) within their `quotas` (JSON).
CREATE TABLE tenants (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    grants TEXT NOT NULL DEFAULT '{}',
    quotas TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
INSERT INTO tenants (id, name, created_at)
    VALUES (1, 'default', (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT);
SELECT setval(pg_get_serial_sequence('tenants', 'id'), 1);

-- API tokens, by the SHA-256 of the token (the token itself is shown once, never kept).
-- An admin token belongs to the default tenant and may also manage tenants.
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

-- Names are unique per tenant, and every lookup by name carries the tenant.
ALTER TABLE jobs ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE jobs DROP CONSTRAINT jobs_name_key;
CREATE UNIQUE INDEX jobs_tenant_name ON jobs (tenant_id, name);
DROP INDEX jobs_displayname;
DROP INDEX jobs_schedule;
DROP INDEX jobs_parent;
CREATE INDEX jobs_displayname ON jobs (tenant_id, displayname, id);
CREATE INDEX jobs_schedule ON jobs (tenant_id, schedule, id);
CREATE INDEX jobs_parent ON jobs (tenant_id, parent_job) WHERE parent_job <> '';

-- The unfiltered job list's total, per tenant.
CREATE TABLE tenant_job_count (
    tenant_id BIGINT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO tenant_job_count (tenant_id, n) SELECT 1, COUNT(*) FROM jobs;
DROP TRIGGER jobs_added ON jobs;
DROP TRIGGER jobs_removed ON jobs;
DROP FUNCTION job_count_added();
DROP FUNCTION job_count_removed();
DROP TABLE job_count;

CREATE FUNCTION tenant_job_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_job_count AS c (tenant_id, n)
        SELECT tenant_id, COUNT(*) FROM added GROUP BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION tenant_job_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tenant_job_count AS c SET n = c.n - r.n
        FROM (SELECT tenant_id, COUNT(*) AS n FROM removed GROUP BY tenant_id) AS r
        WHERE c.tenant_id = r.tenant_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_added AFTER INSERT ON jobs REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_job_count_added();
CREATE TRIGGER jobs_removed AFTER DELETE ON jobs REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_job_count_removed();

ALTER TABLE executors ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 1;
ALTER TABLE executors ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE executors DROP CONSTRAINT executors_name_version_key;
ALTER TABLE executors ADD CONSTRAINT executors_tenant_name_version_key
    UNIQUE (tenant_id, name, version);

ALTER TABLE secrets ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 1;
ALTER TABLE secrets ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE secrets DROP CONSTRAINT secrets_pkey;
ALTER TABLE secrets ADD PRIMARY KEY (tenant_id, name);
