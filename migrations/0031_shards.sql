-- Organisations over several D1 databases (crates/core/src/shards.rs, docs/CAPACITY.md). `shard`
-- names the D1 binding that holds the organisation's data (events, logs, rollups, alerts and the
-- rest); NULL is `DB`, this database, where every organisation stored before this file lives.
-- Organisations, keys, sessions and members stay here whatever their shard.
ALTER TABLE orgs ADD COLUMN shard TEXT;
