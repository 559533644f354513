-- WordPress.com accounts, the partner allow-list for creating them, their
-- tokens, and the outgoing mail (magic links). SQLite dialect; the
-- PostgreSQL file has the same tables and columns.

-- A WordPress.com account. `email_key` is the address lowercased, so that
-- one address is one account whatever its case.
CREATE TABLE wpcom_users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL UNIQUE,
    username            TEXT    NOT NULL UNIQUE,
    product_type        TEXT,
    language            TEXT,
    -- 'api' (POST /jpphp/user), 'provision' (automatic account creation)
    -- or 'operator' (jpstart admin wpcom-user create).
    origin              TEXT    NOT NULL CHECK (origin IN ('api', 'provision', 'operator')),
    created_by_partner  INTEGER REFERENCES partners(id),
    created_at          INTEGER NOT NULL
);

-- Partners the operator allowed to create accounts.
CREATE TABLE partner_user_creation (
    partner_id  INTEGER PRIMARY KEY REFERENCES partners(id),
    allowed_at  INTEGER NOT NULL
);

-- Tokens handed out for an account (SHA-256 digests only); `blog_id` is
-- the site an automatically created account was connected to.
CREATE TABLE wpcom_user_tokens (
    hash        BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES wpcom_users(id),
    blog_id     INTEGER REFERENCES sites(blog_id),
    created_at  INTEGER NOT NULL
);
CREATE INDEX wpcom_user_tokens_user ON wpcom_user_tokens(user_id);

-- Mail waiting to be sent, or sent. Written in the transaction of the
-- request that caused it; a sender delivers it when SMTP is configured.
CREATE TABLE mail_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    partner_id       INTEGER REFERENCES partners(id),
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    sent_at          INTEGER,
    failed_at        INTEGER,
    last_error       TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
