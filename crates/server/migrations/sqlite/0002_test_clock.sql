-- The test clock (SPEC §9): how far the servers' "now" runs ahead of the
-- system time, in milliseconds, kept here so that every server on one
-- database sees the same time and a test can move a running server's clock
-- with `jpstart admin clock`. Read only by servers started with
-- `--test-clock` (or, later, `--sandbox`); others ignore it. At most one
-- row; no row means an offset of 0. It only grows: the clock never runs back.
CREATE TABLE test_clock (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms  INTEGER NOT NULL CHECK (offset_ms >= 0)
);
