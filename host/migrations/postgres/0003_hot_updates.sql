-- Updates on the hot path touch no indexed column, so PostgreSQL can make them HOT (no
-- index entries) when the page has room: an execution is updated when it starts and when
-- it ends, a job when an execution ends. The index on open executions made every one of
-- those updates write index entries; forbid checks use `executions_by_job` instead, and
-- the start-up sweep of one node's open executions is a scan made once.
DROP INDEX executions_open;
ALTER TABLE executions SET (fillfactor = 70);
ALTER TABLE jobs SET (fillfactor = 80);
