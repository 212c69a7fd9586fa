-- Rollups kept once per insert batch instead of once per row. The per-row triggers wrote every
-- rollup row again for each item stored (7 rows, 17 for a hostile item) and for each item purged;
-- the code that stores items now adds each batch to every rollup in one grouped upsert per table
-- (crates/core/src/logs/rollups.rs; event_counts in crates/core/src/ingest/record.rs), and the
-- retention purge deletes whole buckets before the cutoff's hour instead of decrementing
-- (crates/core/src/retention.rs). Existing rollups were exact and stay as they are.
DROP TRIGGER IF EXISTS events_count_insert;
DROP TRIGGER IF EXISTS events_count_delete;
DROP TRIGGER IF EXISTS logs_rollup_insert;
DROP TRIGGER IF EXISTS logs_rollup_delete;
DROP TRIGGER IF EXISTS logs_attack_insert;
DROP TRIGGER IF EXISTS logs_attack_delete;

-- The attackers' tables answer "whose latest hostile item is inside the window" from last_ts
-- alone; their item counts were never read, and a purge by bucket could not keep them exact.
ALTER TABLE log_attackers DROP COLUMN n;
ALTER TABLE log_attacker_ips DROP COLUMN n;
