-- What ran after an execution ended (issue 15): its processors and notifications, one
-- JSON object per execution, `{"processors": [...], "notifications": [...]}`, written by
-- the node that ran it once they are done; NULL when the job has none.
ALTER TABLE executions ADD COLUMN after_run TEXT;

-- An upload is an executor component (the `executor` world) or a processor component
-- (the `processor` world): one registry, one name space per tenant.
ALTER TABLE executors ADD COLUMN kind TEXT NOT NULL DEFAULT 'executor';

-- `POST /v1/pause`: a paused tenant's job writes are refused (503) on every node, until
-- `POST /v1/unpause`.
ALTER TABLE tenants ADD COLUMN paused BOOLEAN NOT NULL DEFAULT FALSE;
