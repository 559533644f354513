-- jpstart schema, SQLite dialect. Times are milliseconds since the epoch,
-- flags are 0/1 integers (the PostgreSQL schema uses the same types so that
-- one set of queries serves both).

CREATE TABLE partners (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Partner keys are OAuth2 clients; the client id is the key id.
CREATE TABLE keys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id     INTEGER NOT NULL REFERENCES partners(id),
    parent_key_id  INTEGER REFERENCES keys(id),
    name           TEXT    NOT NULL,
    secret_hash    BLOB    NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    test           INTEGER NOT NULL DEFAULT 0 CHECK (test IN (0, 1)),
    created_at     INTEGER NOT NULL
);

-- Live activations of a product a key may hold at once. A sub-key (with a
-- parent) may provision only the products listed here.
CREATE TABLE key_limits (
    key_id    INTEGER NOT NULL REFERENCES keys(id),
    product   TEXT    NOT NULL,
    max_live  INTEGER NOT NULL CHECK (max_live >= 0),
    PRIMARY KEY (key_id, product)
);

-- Access tokens, stored as SHA-256 digests only.
CREATE TABLE tokens (
    hash        BLOB    PRIMARY KEY,
    key_id      INTEGER NOT NULL REFERENCES keys(id),
    scope       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX tokens_key ON tokens(key_id);

-- Blog ids are never reused: AUTOINCREMENT never hands out a deleted id.
CREATE TABLE sites (
    blog_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier     TEXT    NOT NULL UNIQUE,
    url            TEXT    NOT NULL,
    local_user     TEXT,
    connected      INTEGER NOT NULL DEFAULT 0 CHECK (connected IN (0, 1)),
    registration   INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    connected_at   INTEGER
);

CREATE TABLE activations (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    blog_id              INTEGER NOT NULL REFERENCES sites(blog_id),
    -- NULL: granted by the operator, not through the partner API.
    key_id               INTEGER REFERENCES keys(id),
    product              TEXT    NOT NULL,
    family               TEXT    NOT NULL,
    state                TEXT    NOT NULL
        CHECK (state IN ('pending', 'active', 'cancelled', 'superseded', 'expired')),
    partner_tracking_id  TEXT,
    created_at           INTEGER NOT NULL,
    activated_at         INTEGER,
    ended_at             INTEGER,
    expires_at           INTEGER,
    superseded_by        INTEGER REFERENCES activations(id)
);
-- At most one live activation per site and family, enforced by the database.
CREATE UNIQUE INDEX activations_one_live_per_family
    ON activations(blog_id, family) WHERE state IN ('pending', 'active');
CREATE INDEX activations_key_product_live
    ON activations(key_id, product) WHERE state IN ('pending', 'active');
CREATE INDEX activations_pending_expiry
    ON activations(expires_at) WHERE state = 'pending';
CREATE INDEX activations_blog ON activations(blog_id);

-- Append-only history of every activation state change.
CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    activation_id  INTEGER NOT NULL REFERENCES activations(id),
    from_state     TEXT,
    to_state       TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    actor          TEXT    NOT NULL
);
CREATE INDEX events_activation ON events(activation_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- SSH/FTP credentials, encrypted with the server key (never returned).
CREATE TABLE credentials (
    blog_id     INTEGER NOT NULL REFERENCES sites(blog_id),
    kind        TEXT    NOT NULL CHECK (kind IN ('ssh', 'ftp')),
    sealed      BLOB    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (blog_id, kind)
);

-- One-time links of the authorization page, stored as SHA-256 digests.
CREATE TABLE auth_links (
    hash        BLOB    PRIMARY KEY,
    blog_id     INTEGER NOT NULL REFERENCES sites(blog_id),
    key_id      INTEGER NOT NULL REFERENCES keys(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX auth_links_blog ON auth_links(blog_id);

-- URL prefixes a partner's authorization links may redirect to.
CREATE TABLE partner_redirects (
    partner_id  INTEGER NOT NULL REFERENCES partners(id),
    prefix      TEXT    NOT NULL,
    PRIMARY KEY (partner_id, prefix)
);
