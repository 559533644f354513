-- Reporting (SPEC §8), after migration 8: the activations list's unfiltered
-- `total` is how many activations the key ever made, kept here by the
-- provision unit in its transaction (which holds the key's row lock), so
-- that it costs one row read however many the key has, where a COUNT over
-- the index of migration 8 reads every entry of the key. Grants have no key
-- and are not counted; activations are never deleted.
ALTER TABLE keys ADD COLUMN activation_count BIGINT NOT NULL DEFAULT 0;
UPDATE keys SET activation_count = (SELECT COUNT(*) FROM activations a WHERE a.key_id = keys.id);
