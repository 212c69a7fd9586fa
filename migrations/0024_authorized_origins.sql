-- Per-organisation authorized origins (docs/api.md §2.6; crates/core/src/access/origins.rs): a
-- JSON array of `scheme://host[:port]`; NULL (every organisation today) allows every origin.
ALTER TABLE orgs ADD COLUMN authorized_origins TEXT;
