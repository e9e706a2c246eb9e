-- The whole schema of ff-store on SQLite. Kept column for column the same as
-- ../postgres/0001_initial.sql: the queries in src/sql/ run on both.
--
-- Documents are JSON kept as TEXT (byte for byte what was written); times are
-- Unix milliseconds.

-- One row: the revision of the last commit.
CREATE TABLE meta (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    revision  BIGINT NOT NULL
);
INSERT INTO meta (id, revision) VALUES (1, 0);

-- Flags, soft-deleted ones included.
CREATE TABLE flags (
    flag_id     TEXT PRIMARY KEY,
    document    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    deleted     BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Every version of every flag; never rewritten.
CREATE TABLE flag_versions (
    flag_id        TEXT NOT NULL REFERENCES flags (flag_id),
    version        BIGINT NOT NULL,
    document       TEXT NOT NULL,
    deleted        BOOLEAN NOT NULL,
    action         TEXT NOT NULL,
    actor          TEXT NOT NULL,
    at             BIGINT NOT NULL,
    reason         TEXT,
    deployment_id  TEXT,
    PRIMARY KEY (flag_id, version)
);
CREATE INDEX flag_versions_deployment ON flag_versions (deployment_id)
    WHERE deployment_id IS NOT NULL;

CREATE TABLE segments (
    segment_id  TEXT PRIMARY KEY,
    document    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE environments (
    key         TEXT PRIMARY KEY,
    settings    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- The hash-chained audit log. `id` is the position in the chain, assigned by
-- the writer that holds the write lock (no gaps).
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY, -- the rowid: BIGINT on PostgreSQL
    at             BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource_kind  TEXT NOT NULL,
    resource_key   TEXT NOT NULL,
    environment    TEXT,
    before         TEXT NOT NULL,
    after          TEXT NOT NULL,
    reason         TEXT,
    request_id     TEXT,
    deployment_id  TEXT,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_resource ON audit (resource_kind, resource_key, id);
CREATE INDEX audit_environment ON audit (environment, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_action ON audit (action, id);
CREATE INDEX audit_deployment ON audit (deployment_id, id);
CREATE INDEX audit_at ON audit (at);

-- What changed at each revision, for stream replay. `seq` orders the changes
-- of one commit.
CREATE TABLE change_log (
    revision  BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    removed   BOOLEAN NOT NULL,
    PRIMARY KEY (revision, seq)
);

-- API keys: the hash of the secret only.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    role          TEXT,
    environment   TEXT,
    prefix        TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
