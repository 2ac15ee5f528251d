-- Kept in step with PostgreSQL's 0003: forbid checks use `executions_by_job`, so the
-- index on open executions goes (SQLite has no fillfactor).
DROP INDEX executions_open;
