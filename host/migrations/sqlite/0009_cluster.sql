-- Several nodes on one database (issue 6). Numbers 0009 (postgres) and 0008 (sqlite) are
-- left to the tenants work.
--
-- `members`: one row per node name. A node writes `heartbeat_at` every second; a node whose
-- heartbeat is older than `--dead-after` is dead, and the first survivor that sets
-- `taken_over` (a conditional UPDATE: exactly one wins) closes and hands out what it left
-- open. Joining again clears `taken_over`. `tags` is a JSON object of strings.
CREATE TABLE members (
    name TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    taken_over BOOLEAN NOT NULL DEFAULT FALSE
);

-- Why an execution exists: `schedule`, `manual`, `retry` or `parent`.
ALTER TABLE executions ADD COLUMN trigger_kind TEXT NOT NULL DEFAULT 'schedule';

-- A node's open executions, read when it restarts or when a survivor takes them over.
CREATE INDEX executions_open_by_node ON executions (node) WHERE state IN ('scheduled', 'running');

-- A scheduled execution handed to a node by another (a survivor's take-over, a job's tags):
-- the node's dispatcher picks it up (and clears the flag), since it did not claim it itself.
ALTER TABLE executions ADD COLUMN handed_over BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX executions_handed ON executions (node) WHERE handed_over;
