-- Reporting (SPEC §8). The activations list reads one key's activations
-- newest first (creation time, then id) a page at a time and counts them:
-- both walk this index, whatever the table's size. Its history (invoices,
-- summary) reads the same rows.
CREATE INDEX activations_key_created ON activations(key_id, created_at, id);
-- The site owner's account (`wpcom_user_id`) of each listed activation.
CREATE INDEX wpcom_user_tokens_blog ON wpcom_user_tokens(blog_id);
