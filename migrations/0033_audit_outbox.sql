-- Audit entries of changes to global tables (keys, members, sessions, origins) whose
-- organisation's log lives on another database (crates/core/src/shards.rs): each is written here,
-- on the primary, in the change's own transaction, then appended to the log on the shard and
-- removed (src/access/audit.rs `global_change`). If the shard cannot be written at that moment,
-- the entry waits here until the next read of the log or the hourly drain appends it: a change
-- is never answered without its entry, nor kept without one.
CREATE TABLE audit_outbox (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  ip TEXT,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL
);
