-- litesoc-agent hosts that sent a heartbeat (POST /agent/heartbeat, docs/integrations.md §3):
-- one row per organisation and hostname, updated in place, never one row per beat.
CREATE TABLE agents (
  org_id TEXT NOT NULL,
  hostname TEXT NOT NULL,
  ip_address TEXT,
  agent_version TEXT,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  heartbeats INTEGER NOT NULL DEFAULT 1,
  -- The last non-empty `recent_logs` the agent sent: a JSON array of at most 10 strings.
  recent_logs TEXT NOT NULL DEFAULT '[]',
  -- The `last_seen` of the silence the agent sweep last raised `agent.heartbeat_missed` for
  -- (docs/integrations.md §3.1): one event per silence; a new beat re-arms it.
  silent_since INTEGER,
  PRIMARY KEY (org_id, hostname)
) WITHOUT ROWID;
-- The retention purge's range (crates/core/src/retention.rs): agents silent past retention go.
CREATE INDEX agents_org_seen ON agents(org_id, last_seen);
