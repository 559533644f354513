-- Webhooks (SPEC §10). SQLite dialect; the PostgreSQL file has the same
-- tables and columns.

-- A partner's endpoints. The signing secret is sealed with the server key
-- (it is needed in plaintext to sign); `events` is a comma-separated list
-- of event types. Deleted endpoints stay, so that their log reads.
CREATE TABLE webhook_endpoints (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id     INTEGER NOT NULL REFERENCES partners(id),
    url            TEXT    NOT NULL,
    events         TEXT    NOT NULL,
    secret_sealed  BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX webhook_endpoints_partner ON webhook_endpoints(partner_id) WHERE deleted_at IS NULL;

-- One event for one partner, written in the transaction of the change it
-- describes; `body` is the exact JSON that is signed and sent.
CREATE TABLE webhook_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id    TEXT    NOT NULL UNIQUE,
    partner_id   INTEGER NOT NULL REFERENCES partners(id),
    type         TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- The outbox: one row per event and matching endpoint. Due when pending,
-- `next_attempt_at` has come, and no live claim (`claimed_until`) holds it.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id      INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    event_id         INTEGER NOT NULL REFERENCES webhook_events(id),
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    give_up_at       INTEGER NOT NULL,
    claimed_until    INTEGER,
    last_status      INTEGER,
    last_latency_ms  INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);

-- The upstream Monitor downtime webhook: one URL per partner, and the
-- quiet periods its answers asked for, per site.
CREATE TABLE monitor_webhooks (
    partner_id  INTEGER PRIMARY KEY REFERENCES partners(id),
    url         TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE monitor_suppressions (
    partner_id  INTEGER NOT NULL REFERENCES partners(id),
    blog_id     INTEGER NOT NULL REFERENCES sites(blog_id),
    quiet_until       INTEGER NOT NULL,
    PRIMARY KEY (partner_id, blog_id)
);
