-- Scoped keys and the key API (docs/api.md §2.5 and §5.10; crates/core/src/access/keys.rs).
--
-- scopes: a comma-separated subset of ingest, read, respond, admin; NULL keeps every scope, so
-- keys made before this migration (and the official SDKs' keys) work as before.
-- id: the key's public id (`key_` + 16 hex), what GET /keys lists and DELETE /keys/:id takes;
-- the key itself and its hash never leave D1.
-- name, created_by: who the key is for and who made it. last_used_at: to the hour (written at
-- most once an hour, when a key lookup misses the isolate's cache). expires_at: set by a
-- rotation, which keeps the old key working for its overlap window.
ALTER TABLE api_keys ADD COLUMN id TEXT;
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN scopes TEXT;
ALTER TABLE api_keys ADD COLUMN created_by TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
UPDATE api_keys SET id = 'key_' || lower(hex(randomblob(8))) WHERE id IS NULL;
CREATE UNIQUE INDEX api_keys_id ON api_keys(id);
