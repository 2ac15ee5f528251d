-- The number of jobs, kept by triggers, so that the unfiltered job list reports its total
-- (`X-Total-Count`) without counting every row.
CREATE TABLE job_count (
    single INTEGER PRIMARY KEY CHECK (single = 1),
    n INTEGER NOT NULL
);
INSERT INTO job_count (single, n) SELECT 1, COUNT(*) FROM jobs;

CREATE TRIGGER jobs_added AFTER INSERT ON jobs BEGIN
    UPDATE job_count SET n = n + 1;
END;
CREATE TRIGGER jobs_removed AFTER DELETE ON jobs BEGIN
    UPDATE job_count SET n = n - 1;
END;
