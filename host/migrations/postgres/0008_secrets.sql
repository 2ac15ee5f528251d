-- Secrets: named values that jobs reference in `executor_config` (`{{secret:NAME}}`) and
-- that granted executors read through the `secrets` interface. The API never returns a
-- value.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
