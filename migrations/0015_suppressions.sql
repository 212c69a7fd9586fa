-- Suppressions and detection settings (docs/api.md §12). A suppression is an organisation's
-- "not this address, network, ASN, actor or country (for these alert types), until then": an
-- alert that matches an active one when detection writes it is stored with `suppressed_by`
-- naming it, counted like any alert, never delivered and hidden from default lists
-- (crates/core/src/alerts/suppress.rs). Detection settings override the thresholds of
-- `DetectionConfig` per organisation (crates/core/src/detect/settings.rs).
--
-- The alerts table gains a nullable column rather than a `suppressed` status: a suppressed
-- alert keeps its workflow status (open, acknowledged, resolved, safe), and no rebuild of the
-- table (as 0014 needed for its CHECK constraint) is necessary.

CREATE TABLE suppressions (
  -- `sup_` and 32 hex digits.
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('ip', 'cidr', 'asn', 'actor', 'country')),
  -- Canonical: an address (`203.0.113.7`, `2001:db8::1`), a network at its first address
  -- (`203.0.113.0/24`), an AS number (`13335`), an actor id, an upper-case country code.
  -- Matching happens in Rust on the suppressions loaded once per detection batch, so a network
  -- needs no range columns (SQLite has no CIDR functions).
  value TEXT NOT NULL,
  -- JSON array of alert types, or NULL for every type.
  alert_types TEXT,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  -- It applies to triggers strictly before this instant; NULL: until deleted.
  expires_at INTEGER,
  -- DELETE ends a suppression but keeps the row, so the alerts it suppressed still name a
  -- readable suppression with who created it and why.
  deleted_at INTEGER,
  deleted_by TEXT,
  -- When it stopped or stops applying: the earlier of expires_at and deleted_at, NULL while it
  -- has neither. The retention purge's time column: ended suppressions go with the plan's
  -- retention; an open-ended one stays.
  ended_at INTEGER
);
CREATE INDEX suppressions_org_created ON suppressions(org_id, created_at DESC, id DESC);
CREATE INDEX suppressions_org_ended ON suppressions(org_id, ended_at);

-- The suppression that matched when the alert was written; NULL for an alert like any other.
ALTER TABLE alerts ADD COLUMN suppressed_by TEXT;
CREATE INDEX alerts_org_suppressed ON alerts(org_id, created_at DESC, id DESC)
  WHERE suppressed_by IS NOT NULL;

-- One row per organisation that changed its detection settings: the overrides (a JSON object
-- in the shape of GET /settings/detection, merged by each PATCH), who made the latest change,
-- when and why. No row: the documented defaults.
CREATE TABLE detection_settings (
  org_id TEXT PRIMARY KEY,
  overrides TEXT NOT NULL,
  reason TEXT,
  updated_by TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
