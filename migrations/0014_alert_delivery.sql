-- Alert delivery (crates/core/src/alerts/delivery/): where an organisation's alerts go, the
-- ledger of deliveries (one row per destination, alert and reason, so a delivery answered 2xx
-- is never sent again), and every attempt. Also the `acknowledged` alert status, which needs
-- the alerts table rebuilt (SQLite cannot change a CHECK constraint in place).

CREATE TABLE destinations (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'pagerduty', 'email')),
  -- The URL (webhook, slack), the routing key (pagerduty) or the address (email).
  target TEXT NOT NULL,
  -- The Standard Webhooks signing secret (`whsec_…`) of a webhook; NULL for other kinds.
  secret TEXT,
  min_severity TEXT NOT NULL CHECK (min_severity IN ('low', 'medium', 'high', 'critical')),
  -- JSON array of alert types, or NULL for every type.
  alert_types TEXT,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX destinations_org ON destinations(org_id, created_at);

-- One row per (destination, alert, reason): `raise:<hour>` for a new or updated alert (at most
-- one per destination and hour), `resolve` for a resolved alert (PagerDuty), `test` for the test
-- button. `status`: pending (queued or waiting for a retry), delivered (2xx), dead (retries
-- exhausted or a 4xx that retrying cannot fix), cancelled (destination disabled or deleted).
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  destination_id TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  -- When the queue message was sent; NULL until then (a sweep sends what was never sent).
  queued_at INTEGER,
  next_attempt_at INTEGER,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_destination ON deliveries(org_id, destination_id, created_at DESC);
CREATE INDEX deliveries_org_created ON deliveries(org_id, created_at);
CREATE INDEX deliveries_unqueued ON deliveries(status, queued_at) WHERE queued_at IS NULL;

-- Every attempt of a delivery: what the receiver answered and how long it took.
CREATE TABLE delivery_attempts (
  delivery_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  org_id TEXT NOT NULL,
  destination_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  status INTEGER,
  latency_ms INTEGER,
  error TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead', 'cancelled')),
  next_attempt_at INTEGER,
  PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;
CREATE INDEX delivery_attempts_destination ON delivery_attempts(org_id, destination_id, at DESC);
CREATE INDEX delivery_attempts_org_at ON delivery_attempts(org_id, at);

-- Alerts gain `acknowledged` (someone is on it) with who and when.
CREATE TABLE alerts_v2 (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  alert_type TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'safe')),
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  source_ip TEXT,
  actor_id TEXT,
  dedup_key TEXT NOT NULL,
  trigger_event_id TEXT,
  forensics TEXT,
  resolution_type TEXT,
  resolved_at INTEGER,
  resolved_by TEXT,
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  acknowledged_at INTEGER,
  acknowledged_by TEXT
);
INSERT INTO alerts_v2 (id, org_id, alert_type, severity, status, title, description, source_ip,
  actor_id, dedup_key, trigger_event_id, forensics, resolution_type, resolved_at, resolved_by,
  metadata, created_at, updated_at)
SELECT id, org_id, alert_type, severity, status, title, description, source_ip, actor_id,
  dedup_key, trigger_event_id, forensics, resolution_type, resolved_at, resolved_by, metadata,
  created_at, updated_at FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v2 RENAME TO alerts;
CREATE INDEX alerts_org_created ON alerts(org_id, created_at DESC, id DESC);
CREATE INDEX alerts_dedup ON alerts(org_id, alert_type, dedup_key, status, created_at);
-- Detection's new and updated alerts of one batch, for delivery.
CREATE INDEX alerts_org_updated ON alerts(org_id, updated_at);
