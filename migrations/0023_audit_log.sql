-- The audit log (docs/api.md §5.11; crates/core/src/access/audit.rs): every change made through
-- the API, who made it (a key's name and prefix), when, from which address and what changed,
-- numbered per organisation and chained by SHA-256 (`hash`, set when the entry is sealed right
-- after its change commits). Appended in the change's own transaction; never updated but for
-- sealing, and never purged: entries are few (human actions) and outlive every retention.
CREATE TABLE audit_log (
  org_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  ip TEXT,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL,
  hash TEXT,
  PRIMARY KEY (org_id, seq)
) WITHOUT ROWID;
