-- edgesoc schema v2: alerts from detection, their idempotency keys, and the indexes the
-- detection history queries need.

CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  alert_type TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status TEXT NOT NULL CHECK (status IN ('open', 'resolved', 'safe')),
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  source_ip TEXT,
  actor_id TEXT,
  -- The rule's grouping key (an IP or an actor): one open alert per (org, type, key) per hour.
  dedup_key TEXT NOT NULL,
  trigger_event_id TEXT,
  forensics TEXT,
  resolution_type TEXT,
  resolved_at INTEGER,
  resolved_by TEXT,
  -- confidence, occurrences, trigger_event_ids (<= 20), evidence, internal_notes, signal copies
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX alerts_org_created ON alerts(org_id, created_at DESC, id DESC);
CREATE INDEX alerts_dedup ON alerts(org_id, alert_type, dedup_key, status, created_at);

-- One row per (alert rule key, trigger event): a redelivered queue message finds its row and
-- changes nothing, so occurrences are never double-counted and no second alert appears.
CREATE TABLE alert_triggers (
  org_id TEXT NOT NULL,
  alert_type TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, alert_type, dedup_key, event_id)
) WITHOUT ROWID;

-- Detection history: failed logins and rate-limit events per IP and per actor, an actor's
-- logins, countries and devices.
CREATE INDEX events_org_ip_name ON events(org_id, user_ip, event_name, created_at);
CREATE INDEX events_org_actor_name ON events(org_id, actor_id, event_name, created_at);
