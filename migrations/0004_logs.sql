-- edgesoc schema v4: dashboard log items (docs/dashboard.md §2, §3.1, §7, §9).
-- One row per raw log line from POST /loki/api/v1/push, and one per stored LiteSOC event
-- (written by the queue consumer in the same transaction as the event). Everything the
-- dashboard shows is classified once, at ingestion, into these columns (crates/core/src/logs).
-- Times are Unix milliseconds; booleans are 0/1.

CREATE TABLE logs (
  -- Raw lines are identified as '<id>-<ts / 1000>' (the seed's id style, e.g. 124-1706616060).
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  -- The entry's timestamp (raw lines) or the event's created_at.
  ts INTEGER NOT NULL,
  -- Start of the UTC hour containing ts (timeline and heatmap buckets).
  hour INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('login_failure', 'login_success', 'iam_change', 'network_scan', 'network_event')),
  -- Only for iam_change.
  action TEXT CHECK (action IN ('policy_attached', 'role_escalated', 'resource_created', 'resource_deleted', 'permission_changed')),
  -- _metadata.severity: a log level.
  level TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'critical')),
  service TEXT NOT NULL,
  namespace TEXT NOT NULL,
  -- NULL when unknown (shown as "unknown").
  source_ip TEXT,
  user TEXT,
  hostname TEXT,
  target_ip TEXT,
  geo TEXT,
  device TEXT,
  vpn INTEGER,
  status_code INTEGER,
  -- What an IAM change acted on (iamChanges.resource).
  resource TEXT,
  -- Raw lines: the line, truncated to 8 KiB. Events: the event name (and metadata.message).
  message TEXT NOT NULL,
  -- Events only: the event UUID (the item id) and name. NULL for raw lines. UNIQUE makes the
  -- consumer's INSERT OR IGNORE idempotent on redelivery.
  event_id TEXT UNIQUE,
  event_name TEXT
);
-- The dashboard window (newest first per organisation) and the retention purge.
CREATE INDEX logs_org_ts ON logs(org_id, ts DESC, id DESC);
-- Per-type reads: IAM changes newest first, failed-login counts and brute-force history.
CREATE INDEX logs_org_type_ts ON logs(org_id, type, ts);
