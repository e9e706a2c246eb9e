-- Work the service carries out over time: change requests waiting for
-- approval, scheduled changes and gradual rollout plans. Kept column for
-- column the same on SQLite and PostgreSQL.
--
-- `document` is the item's JSON body (its shape depends on `kind`); the
-- columns beside it are what lists filter on and what the scheduler polls.
-- Every change goes through a commit, with its audit entry and a version
-- check: two nodes that both find a schedule due cannot both apply it.
CREATE TABLE work_items (
    kind         TEXT NOT NULL,
    id           TEXT NOT NULL,
    status       TEXT NOT NULL,
    flag_id      TEXT,
    environment  TEXT,
    due_at       BIGINT,
    document     TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX work_items_due ON work_items (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX work_items_flag ON work_items (flag_id, kind);
