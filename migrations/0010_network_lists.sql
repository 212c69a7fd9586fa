-- Network lists (Tor exits, datacenter/VPN/proxy/relay ASNs and CIDRs) refreshed by the hourly
-- cron job from public sources (crates/core/src/intel/refresh.rs). A list without a stored
-- text uses the shipped default compiled into the Worker, so an empty table works offline.
-- A refresh replaces a list's chunks and its row in one batch (one transaction), and a refused
-- refresh only updates checked_at and last_error: the stored text stays in force. fetched_at
-- is when the stored text was first fetched, checked_at when a source last confirmed or failed.

CREATE TABLE network_lists (
  list TEXT PRIMARY KEY,        -- tor_exits, datacenter_asns, ... (ListKind names)
  source TEXT,                  -- the URL(s) the stored text came from, space-separated
  fetched_at INTEGER,           -- ms when the stored text was fetched, NULL while none is stored
  entries INTEGER NOT NULL DEFAULT 0,
  chunks INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,                  -- of the stored text: an unchanged download rewrites nothing
  checked_at INTEGER NOT NULL,  -- ms of the last refresh attempt, stored or refused
  last_error TEXT               -- why the last attempt was refused, NULL after a success
);

-- The canonical text (one entry per line), in pieces of at most 256 KiB cut at line ends.
CREATE TABLE network_list_chunks (
  list TEXT NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (list, seq)
);
