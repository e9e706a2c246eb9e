-- Evaluation logs for debugging: switched on for a flag in an environment
-- until a time, every node keeps a sample of what it evaluated there
-- (context attributes hashed unless asked in clear). Not audited; entries
-- are deleted after a day.
CREATE TABLE evaluation_log_switches (
    flag_id        TEXT NOT NULL,
    environment    TEXT NOT NULL,
    until          BIGINT NOT NULL,
    clear_context  BOOLEAN NOT NULL,
    PRIMARY KEY (flag_id, environment)
);

CREATE TABLE evaluation_log (
    flag_id      TEXT NOT NULL,
    environment  TEXT NOT NULL,
    at           BIGINT NOT NULL,
    entry        TEXT NOT NULL
);

CREATE INDEX evaluation_log_by_flag ON evaluation_log (flag_id, environment, at);
