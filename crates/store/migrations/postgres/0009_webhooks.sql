-- Outgoing webhooks. Endpoints change through commits (audited like keys).
-- The audit shows the document, never the signing secret nor the whole URL
-- (a Slack incoming-webhook URL is itself a credential, and viewers read the
-- audit log): both are kept in their own columns, in clear, because the
-- server must send and sign with them.
--
-- Deliveries are an outbox derived from the audit log: a dispatcher reads
-- audit entries after `webhook_cursor.audit_id` and, in one transaction,
-- inserts their deliveries and moves the cursor (compare-and-set: a node
-- that lost the race inserts nothing). A node sends a delivery only after
-- claiming it (`lease_owner`, `lease_until`) with an UPDATE that matches
-- only an unleased or expired row, so one sender at a time.
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    document    TEXT NOT NULL,
    secret      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    audit_id         BIGINT, -- the event's audit entry (NULL for a ping): orders deliveries
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);

-- Starts at the current end of the log: registering the first endpoint
-- does not replay history.
CREATE TABLE webhook_cursor (
    id        INTEGER PRIMARY KEY,
    audit_id  BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, audit_id) SELECT 1, COALESCE(MAX(id), 0) FROM audit;
