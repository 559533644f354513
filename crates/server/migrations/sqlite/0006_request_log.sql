-- The request log (SPEC §9): one row per request under /rest, /wpcom and
-- /oauth2, written in batches off the request's path and pruned past its
-- retention. Parameters and response are JSON text with every secret
-- already redacted. `key_id` and `partner_id` are NULL when the request
-- named no key (no or an invalid token): the operator sees those rows.
-- No foreign keys: a batch insert must not fail on one row.
CREATE TABLE request_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    partner_id  INTEGER,
    key_id      INTEGER,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    error_code  TEXT,
    latency_ms  INTEGER NOT NULL,
    params      TEXT    NOT NULL,
    response    TEXT    NOT NULL
);
CREATE INDEX request_log_time ON request_log(time);
CREATE INDEX request_log_partner ON request_log(partner_id, time);
CREATE INDEX request_log_key ON request_log(key_id, time);
