-- Incidents: losses the service owns up to instead of only logging (crates/core/src/ingest/incidents.rs).
-- Today one kind: a queue message this Worker produced that its consumer could not decode. One
-- row per message (its queue message id), so a redelivered message is recorded and refunded
-- once; `refunded` is set after its events were given back to the monthly quota. `org_id` is ''
-- when not even the organisation could be read. Shown per organisation by GET /health; purged
-- with the organisation's retention.
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  events INTEGER NOT NULL,
  event_ids TEXT NOT NULL,
  detail TEXT NOT NULL,
  at INTEGER NOT NULL,
  refunded INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX incidents_org_at ON incidents(org_id, at);
