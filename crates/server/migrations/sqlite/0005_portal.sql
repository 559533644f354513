-- The partner portal (SPEC §8): partner users, their sessions, the OAuth
-- apps they register, authorization codes and the users' reporting tokens.
-- SQLite dialect; the PostgreSQL file has the same tables and columns.
-- Every secret (session, client secret, code, token) is a SHA-256 digest;
-- passwords are argon2id PHC strings.

-- A person of a partner organisation. `email_key` is the address
-- lowercased: one address is one user whatever its case.
CREATE TABLE partner_users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id     INTEGER NOT NULL REFERENCES partners(id),
    email          TEXT    NOT NULL,
    email_key      TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL DEFAULT '',
    password_hash  TEXT    NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at     INTEGER NOT NULL
);
CREATE INDEX partner_users_partner ON partner_users(partner_id);

-- Portal sessions, in the database so that any server serves them.
CREATE TABLE portal_sessions (
    hash        BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES partner_users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX portal_sessions_user ON portal_sessions(user_id);

-- OAuth apps a user registered; the client id is the app id.
CREATE TABLE oauth_apps (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id    INTEGER NOT NULL REFERENCES partners(id),
    user_id       INTEGER NOT NULL REFERENCES partner_users(id),
    name          TEXT    NOT NULL,
    redirect_uri  TEXT    NOT NULL,
    secret_hash   BLOB    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX oauth_apps_partner ON oauth_apps(partner_id);

-- Authorization codes: single use (`used_at`), short-lived, bound to their
-- app, user and redirect URI.
CREATE TABLE oauth_codes (
    hash          BLOB    PRIMARY KEY,
    app_id        INTEGER NOT NULL REFERENCES oauth_apps(id),
    user_id       INTEGER NOT NULL REFERENCES partner_users(id),
    redirect_uri  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);

-- A partner user's reporting tokens (from the code flow, `app_id` set, or
-- from the portal).
CREATE TABLE partner_user_tokens (
    hash        BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES partner_users(id),
    app_id      INTEGER REFERENCES oauth_apps(id),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX partner_user_tokens_user ON partner_user_tokens(user_id);
