-- A/B experiments, who was exposed to which variant (once per subject and
-- experiment: the first exposure is kept), and tracked events. Subjects are
-- stored as keyed hashes of user ids (see the server's privacy module), and
-- `secrets` keeps the installation's hashing key. Experiments change
-- through commits (audited); exposures and events are bookkeeping.
CREATE TABLE experiments (
    id           TEXT PRIMARY KEY,
    flag_id      TEXT NOT NULL,
    environment  TEXT NOT NULL,
    document     TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE exposures (
    experiment_id  TEXT NOT NULL,
    subject        TEXT NOT NULL,
    variant        TEXT NOT NULL,
    first_at       BIGINT NOT NULL,
    PRIMARY KEY (experiment_id, subject)
);

CREATE TABLE tracked_events (
    event    TEXT NOT NULL,
    subject  TEXT NOT NULL,
    value    REAL,
    at       BIGINT NOT NULL
);

CREATE INDEX tracked_events_by_event ON tracked_events (event, subject, at);

CREATE TABLE secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
