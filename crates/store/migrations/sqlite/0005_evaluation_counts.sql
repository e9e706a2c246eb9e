-- How many evaluations each flag had, per environment, outcome (a variant
-- or a bounded value label), reason and error code, in time buckets of a
-- minute, an hour and a day. Counts are added (never replaced), so several
-- nodes flushing the same bucket add up. Old buckets are deleted per
-- granularity (retention). Not audited. Kept the same on SQLite and
-- PostgreSQL.
CREATE TABLE evaluation_counts (
    granularity   TEXT NOT NULL,
    bucket_start  BIGINT NOT NULL,
    flag_id       TEXT NOT NULL,
    environment   TEXT NOT NULL,
    label         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    error_code    TEXT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (granularity, flag_id, environment, bucket_start, label, reason, error_code)
);

CREATE INDEX evaluation_counts_by_age ON evaluation_counts (granularity, bucket_start);
