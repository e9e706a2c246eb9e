-- People who sign in to the admin interface, and their sessions. Users are
-- created and changed through commits (audited, like API keys); sessions
-- are bookkeeping written directly (sign-in, sign-out), never audited.
-- Kept the same on SQLite and PostgreSQL.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    disabled_at    BIGINT
);

-- A session is found by the SHA-256 of its cookie's secret; the secret
-- itself is never stored. `csrf_token` is what forms and script requests
-- of this session must echo.
CREATE TABLE sessions (
    secret_hash   TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE INDEX sessions_by_user ON sessions (user_id);
