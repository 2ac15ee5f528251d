-- Indexes for the job list's sort keys that rarely change, so the first page of a sorted
-- list of a million jobs is an index walk, not a sort of every row. `jobs_next` replaces
-- the partial `jobs_due`: it also serves the claim (`next_run_at <= $1`), and it orders
-- jobs without a next tick too. Counters and last-run times change with every execution
-- and stay unindexed: sorting by them sorts every row.
DROP INDEX jobs_due;
CREATE INDEX jobs_next ON jobs (next_run_at, id);
CREATE INDEX jobs_displayname ON jobs (displayname, id);
CREATE INDEX jobs_schedule ON jobs (schedule, id);
