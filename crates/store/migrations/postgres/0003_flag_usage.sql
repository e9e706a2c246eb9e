-- When each flag was last evaluated by this service (any environment), for
-- finding cleanup candidates. Written in batches from memory, keeping the
-- latest time; not audited. Kept the same on SQLite and PostgreSQL.
CREATE TABLE flag_usage (
    flag_id            TEXT COLLATE "C" PRIMARY KEY,
    last_evaluated_at  BIGINT NOT NULL
);
