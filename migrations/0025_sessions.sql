-- Dashboard sessions (docs/api.md §2.7; crates/core/src/access/session.rs): a key exchanged once
-- for a short-lived, revocable session kept in an HttpOnly cookie. Only the session id's SHA-256
-- is stored. A session ends at expires_at, when revoked (sign-out), or with its key.
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
) WITHOUT ROWID;
-- The retention purge removes an organisation's sessions past their expiry.
CREATE INDEX sessions_org_expires ON sessions(org_id, expires_at);
