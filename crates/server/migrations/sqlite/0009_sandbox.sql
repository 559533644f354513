-- The sandbox (SPEC §9): how many requests each key has made to each
-- flaky-N.jpstart.test site, so that "the first N requests answer 503" holds
-- across every server on one database. `site` is the site's identifier
-- (host and path); a row is only ever written by a server in sandbox mode.
CREATE TABLE sandbox_flaky_hits (
    key_id  INTEGER NOT NULL,
    site    TEXT NOT NULL,
    hits    INTEGER NOT NULL CHECK (hits >= 0),
    PRIMARY KEY (key_id, site)
);
