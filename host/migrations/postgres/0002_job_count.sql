-- The number of jobs, kept by statement-level triggers, so that the unfiltered job list
-- reports its total (`X-Total-Count`) without counting a million rows.
CREATE TABLE job_count (
    single BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (single),
    n BIGINT NOT NULL
);
INSERT INTO job_count (n) SELECT COUNT(*) FROM jobs;

CREATE FUNCTION job_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_count SET n = n + (SELECT COUNT(*) FROM added);
    RETURN NULL;
END
$$;

CREATE FUNCTION job_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_count SET n = n - (SELECT COUNT(*) FROM removed);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_added AFTER INSERT ON jobs REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION job_count_added();
CREATE TRIGGER jobs_removed AFTER DELETE ON jobs REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION job_count_removed();
