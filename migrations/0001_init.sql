-- edgesoc schema v1: organisations, hashed API keys, events.
-- Times are Unix milliseconds (INTEGER); booleans are 0/1; JSON columns hold objects as text.

CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  plan TEXT NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise', 'custom')),
  -- Per-organisation settings for enterprise/custom plans; NULL = the plan default.
  rate_limit_per_minute INTEGER,
  monthly_event_quota INTEGER,
  retention_days INTEGER,
  created_at INTEGER NOT NULL
);

-- Keys are stored only as SHA-256 hex; key_prefix (e.g. "lsoc_live_ab12") identifies a key
-- to humans without revealing it.
CREATE TABLE api_keys (
  key_hash TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES orgs(id),
  key_prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_org ON api_keys(org_id);

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  category TEXT NOT NULL,
  severity TEXT NOT NULL,
  instant_alert INTEGER NOT NULL,
  actor_id TEXT,
  actor_email TEXT,
  user_ip TEXT,
  server_ip TEXT,
  country_code TEXT,
  city TEXT,
  latitude REAL,
  longitude REAL,
  is_vpn INTEGER,
  is_tor INTEGER,
  is_proxy INTEGER,
  is_datacenter INTEGER,
  threat_score INTEGER,
  forensics TEXT,
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
-- Newest-first listing per organisation, and the retention purge.
CREATE INDEX events_org_created ON events(org_id, created_at DESC, id DESC);
