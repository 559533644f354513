-- Performance (issue 17), after migration 10: the key's activation counter
-- was one row, `keys.activation_count`, that every provision by the key
-- updated. On PostgreSQL an update holds that row's lock until COMMIT, so
-- one busy key's provisions ran one at a time, whatever the limits. The
-- counter is now spread over up to 16 rows per key (the shard is the new
-- activation's id modulo 16): provisions of one key rarely meet on a row,
-- and the total is the sum of at most 16 rows, still independent of how
-- many activations the key has.
CREATE TABLE key_activation_counts (
    key_id BIGINT NOT NULL REFERENCES keys (id),
    shard BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (key_id, shard)
);
INSERT INTO key_activation_counts (key_id, shard, n)
    SELECT id, 0, activation_count FROM keys WHERE activation_count > 0;
ALTER TABLE keys DROP COLUMN activation_count;
