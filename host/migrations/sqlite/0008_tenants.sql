-- Tenants: every job, executor upload and secret belongs to one. Tenant 1, `default`, is
-- the operator's own: it owns everything written before tenants existed, and its grants
-- are the server's `--allow` flags. Other tenants get what the admin grants (`grants`,
-- `CAPABILITY -> [PATTERN]` as JSON) within their `quotas` (JSON).
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    grants TEXT NOT NULL DEFAULT '{}',
    quotas TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
INSERT INTO tenants (id, name, created_at)
    VALUES (1, 'default', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- API tokens, by the SHA-256 of the token (the token itself is shown once, never kept).
-- An admin token belongs to the default tenant and may also manage tenants.
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

-- Names are unique per tenant: SQLite cannot drop a column's UNIQUE, so `jobs`,
-- `executors` and `secrets` are rebuilt with a `tenant_id` (1 for every existing row).
CREATE TABLE jobs_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    displayname TEXT NOT NULL DEFAULT '',
    schedule TEXT NOT NULL DEFAULT '',
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    parent_job TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO jobs_new (id, tenant_id, name, spec, displayname, schedule, disabled, parent_job,
                      created_at, updated_at)
    SELECT id, 1, name, spec, displayname, schedule, disabled, parent_job, created_at, updated_at
    FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE UNIQUE INDEX jobs_tenant_name ON jobs (tenant_id, name);
CREATE INDEX jobs_displayname ON jobs (tenant_id, displayname, id);
CREATE INDEX jobs_schedule ON jobs (tenant_id, schedule, id);
CREATE INDEX jobs_parent ON jobs (tenant_id, parent_job) WHERE parent_job <> '';

-- The unfiltered job list's total, per tenant.
DROP TABLE job_count;
CREATE TABLE tenant_job_count (
    tenant_id INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
INSERT INTO tenant_job_count (tenant_id, n) SELECT 1, COUNT(*) FROM jobs;
CREATE TRIGGER jobs_added AFTER INSERT ON jobs BEGIN
    INSERT INTO tenant_job_count (tenant_id, n) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER jobs_removed AFTER DELETE ON jobs BEGIN
    UPDATE tenant_job_count SET n = n - 1 WHERE tenant_id = OLD.tenant_id;
END;

CREATE TABLE executors_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    imports TEXT NOT NULL,
    wasm BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name, version)
);
INSERT INTO executors_new (id, tenant_id, name, version, sha256, size, imports, wasm, created_at)
    SELECT id, 1, name, version, sha256, size, imports, wasm, created_at FROM executors;
DROP TABLE executors;
ALTER TABLE executors_new RENAME TO executors;

CREATE TABLE secrets_new (
    tenant_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
INSERT INTO secrets_new (tenant_id, name, value, created_at, updated_at)
    SELECT 1, name, value, created_at, updated_at FROM secrets;
DROP TABLE secrets;
ALTER TABLE secrets_new RENAME TO secrets;
