-- Bounded growth (SPEC §11): a key's live tokens are capped, and beyond the
-- cap the least recently used is revoked. "Used" is recorded at most once
-- per interval (domain/bounds.rs `needs_touch`); NULL: never used.
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
